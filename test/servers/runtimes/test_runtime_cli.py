"""``zeroserve serve`` as a real process: KServe flag spellings, env options, storage URIs, the repository
extension, failures with their reason on stderr."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from runtime_support import SKLEARN

from zeroserve.servers.cli import parse_serve_args
from zeroserve.servers.testing import ServedProcess, ServerStartError, ThreadedServer, serve_in_subprocess


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, sklearn_dir: Path) -> Path:
    """A model repository: ``good/`` holds the iris model, ``broken/`` holds two model files."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(sklearn_dir, root / "good")
    (root / "broken").mkdir()
    shutil.copy(sklearn_dir / "model.joblib", root / "broken" / "a.joblib")
    shutil.copy(sklearn_dir / "model.joblib", root / "broken" / "b.pkl")
    (root / "empty").mkdir()
    return root


@pytest.fixture(scope="module")
def kserve_style(
    sklearn_dir: Path, repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedProcess]:
    """The sklearn runtime started with KServe's args (and its PREDICT_PROBA env), plus flags to tolerate."""
    args = [
        "sklearn",
        "--model_name=iris",
        f"--model_dir={sklearn_dir}",
        f"--models_dir={repository}",
        "--enable_model_repository",
        "--http_port=0",
        "--grpc_port=0",
        "--workers=1",
        "--enable_latency_logging=true",
        "--some-future-kserve-flag",
        "value",
    ]
    env = {"PREDICT_PROBA": "true", "ZEROSERVE_STORAGE_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    with serve_in_subprocess(args, env=env) as srv:
        yield srv


def test_kserve_args_serve_predict_proba_over_v1_and_grpc(
    kserve_style: ServedProcess, sklearn_dir: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    estimator = joblib.load(sklearn_dir / "model.joblib")
    rows = iris[0][::10]
    v1 = httpx.post(f"{kserve_style.http_url}/v1/models/iris:predict", json={"instances": rows.tolist()})
    assert v1.status_code == 200, v1.text
    assert v1.json() == {"predictions": estimator.predict_proba(rows).tolist()}

    x = rows.astype(np.float32)
    client = grpcclient.InferenceServerClient(kserve_style.grpc_target)
    try:
        tensor = grpcclient.InferInput("input-0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        got = client.infer("iris", [tensor]).as_numpy("output-0")
    finally:
        client.close()
    np.testing.assert_array_equal(got, estimator.predict_proba(x))


def test_unknown_flags_are_logged_not_fatal(kserve_style: ServedProcess) -> None:
    lines = [json.loads(line) for line in kserve_style.stderr_text().splitlines() if line.startswith("{")]
    warnings = [line for line in lines if line["level"] == "WARNING" and "unknown flags" in line["msg"]]
    assert warnings and warnings[0]["flags"] == ["--some-future-kserve-flag"]
    assert any("--enable_latency_logging" in line["msg"] for line in lines if line["level"] == "INFO")


def test_repository_load_reports_a_broken_model_then_loads_a_good_one(
    kserve_style: ServedProcess, repository: Path
) -> None:
    kserve_style_repo = repository
    base = kserve_style.http_url
    broken = httpx.post(f"{base}/v2/repository/models/broken/load")
    assert broken.status_code == 503
    assert "found 2: a.joblib, b.pkl" in broken.json()["error"]
    empty = httpx.post(f"{base}/v2/repository/models/empty/load")
    assert empty.status_code == 503
    assert (
        f"no model file (*.joblib, *.pkl, *.pickle) found in {kserve_style_repo}/empty"
        in empty.json()["error"]
    )
    good = httpx.post(f"{base}/v2/repository/models/good/load")
    assert good.status_code == 200, good.text
    ready = httpx.get(f"{base}/v2/models/good/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    answer = httpx.post(f"{base}/v1/models/good:predict", json={"instances": [[6.8, 2.8, 4.8, 1.4]]})
    assert answer.status_code == 200 and len(answer.json()["predictions"][0]) == 3


@pytest.fixture(scope="module")
def tarball_url(xgboost_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The XGBoost model as ``model.tar.gz`` on a real local HTTP server (port 0)."""
    root = tmp_path_factory.mktemp("www")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(xgboost_dir / "model.json", arcname="model.json")
    (root / "model.tar.gz").write_bytes(buf.getvalue())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(xgboost_dir / "model.json", arcname="../../model.json")
    (root / "escape.tar.gz").write_bytes(buf.getvalue())

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/model.tar.gz"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_storage_uri_is_downloaded_and_served(
    tarball_url: str, xgboost_dir: Path, iris: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    import xgboost

    x = iris[0][::10].astype(np.float32)
    booster = xgboost.Booster(model_file=str(xgboost_dir / "model.json"))
    env = {"ZEROSERVE_STORAGE_CACHE_DIR": str(tmp_path / "cache")}
    args = [
        "xgboost",
        "--model-name",
        "iris-xgb",
        "--storage-uri",
        tarball_url,
        "--nthread",
        "1",
        "--grpc-port",
        "-1",
    ]
    with serve_in_subprocess(args, env=env) as srv:
        assert srv.grpc_port is None
        resp = httpx.post(f"{srv.http_url}/v1/models/iris-xgb:predict", json={"instances": x.tolist()})
        assert resp.status_code == 200, resp.text
        assert resp.json()["predictions"] == booster.predict(xgboost.DMatrix(x)).tolist()
    [cached] = list((tmp_path / "cache").iterdir())
    assert (cached / "model.json").is_file()


def test_escaping_archive_fails_start_with_the_reason(tarball_url: str, tmp_path: Path) -> None:
    url = tarball_url.replace("model.tar.gz", "escape.tar.gz")
    env = {"ZEROSERVE_STORAGE_CACHE_DIR": str(tmp_path / "cache")}
    with (
        pytest.raises(ServerStartError) as info,
        serve_in_subprocess(["xgboost", "--storage-uri", url], env=env),
    ):
        pass
    assert f"archive {url}: member '../../model.json' escapes the target folder" in str(info.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_model_file_fails_start_with_the_reason(tmp_path: Path) -> None:
    with (
        pytest.raises(ServerStartError) as info,
        serve_in_subprocess(["sklearn", "--model-dir", str(tmp_path)]),
    ):
        pass
    text = str(info.value)
    assert "exited with code 1" in text
    assert f"sklearn: no model file (*.joblib, *.pkl, *.pickle) found in {tmp_path}" in text


def test_both_spellings_parse_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    ours = parse_serve_args(
        ["sklearn", "--model-name", "a", "--model-dir", "/m", "--http-port", "1", "--workers", "2"]
    )
    theirs = parse_serve_args(
        ["sklearnserver", "--model_name=a", "--model_dir=/m", "--http_port=1", "--workers=2"]
    )
    for cmd in (ours, theirs):
        assert (cmd.runtime, cmd.model_name, cmd.model_dir) == ("sklearn", "a", "/m")
        assert (cmd.settings.http_port, cmd.settings.workers) == (1, 2)


def test_ports_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("ZEROSERVE_GRPC_PORT", "9124")
    cmd = parse_serve_args(["xgboost", "--model_dir=/m"])
    assert (cmd.settings.http_port, cmd.settings.grpc_port) == (9123, 9124)
    assert parse_serve_args(["xgboost", "--http-port", "0"]).settings.http_port == 0
    assert parse_serve_args(["xgboost", "--enable_grpc=false"]).settings.grpc_port == -1


def test_logger_transformer_and_runtime_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    cmd = parse_serve_args(
        [
            "custom",
            "--model-class=m.py:T",
            '--model_params={"k": 1}',
            "--runtime-option",
            "extra-thing=5",
            "--log-url=http://broker.example/ns/default",
            "--log-mode=request",
            "--log-metadata-headers=x-a, x-b",
            "--inference-service=iris",
            "--namespace=ns",
            "--component=transformer",
            "--predictor_host=iris-predictor.ns",
            "--protocol=grpc-v2",
            "--predictor_request_timeout_seconds=5",
            "--max_threads=8",
            "--grpc_max_receive_message_length=1048576",
            "--event-loop=uvloop",
            "--max_asyncio_workers=4",
            "--brand-new-flag",
        ]
    )
    assert cmd.options == {"model_class": "m.py:T", "model_params": '{"k": 1}', "extra_thing": "5"}
    s = cmd.settings
    assert (s.log_url, s.log_mode, s.log_metadata_headers) == (
        "http://broker.example/ns/default",
        "request",
        ["x-a", "x-b"],
    )
    assert (s.inference_service, s.namespace, s.component) == ("iris", "ns", "transformer")
    assert (s.grpc_max_threads, s.grpc_max_message_length) == (8, 1048576)
    assert cmd.predictor is not None
    assert (cmd.predictor.predictor_host, cmd.predictor.predictor_protocol) == (
        "iris-predictor.ns",
        "grpc-v2",
    )
    assert cmd.predictor.predictor_request_timeout_seconds == 5.0
    assert s.event_loop == "uvloop"
    assert (cmd.ignored_flags, cmd.unknown_flags) == (["--max_asyncio_workers"], ["--brand-new-flag"])


@pytest.mark.parametrize(("args", "loop"), [([], "asyncio"), (["--event_loop=auto"], "asyncio")])
def test_event_loop_defaults_to_asyncio(args: list[str], loop: str) -> None:
    assert parse_serve_args(["sklearn", "--model_dir=/m", *args]).settings.event_loop == loop


def test_an_unknown_event_loop_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_serve_args(["sklearn", "--model_dir=/m", "--event-loop=trio"])
    assert exited.value.code == 2
    assert "--event-loop/--event_loop: invalid choice: 'trio'" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from zeroserve.servers.cli import main

    assert main(["mxnet", "--model-dir", "/m"]) == 2
    assert "unknown runtime 'mxnet'" in capsys.readouterr().err
    assert main(["sklearn", "--model-dir", "/a", "--storage-uri", "s3://b/c"]) == 2
    assert "either --model-dir or --storage-uri" in capsys.readouterr().err
    assert main(["sklearn", "--runtime-option", "novalue"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err
    assert main(["sklearn", "--workers", "0"]) == 2
    assert "bad server option: workers: Input should be greater than or equal to 1" in capsys.readouterr().err


TRANSFORMER_SOURCE = """
from zeroserve.servers.model import Model


class Centimetres(Model):
    '''A KServe-style transformer: converts millimetres to centimetres, then the predictor answers.'''

    def preprocess(self, payload, headers=None):
        return {"instances": [[v / 10 for v in row] for row in payload["instances"]]}

    def postprocess(self, result, headers=None):
        return {"predictions": result["predictions"], "via": "transformer"}
"""


@pytest.mark.slow
def test_transformer_forwards_to_its_predictor(
    server: ThreadedServer, sklearn_dir: Path, iris: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    source = tmp_path / "transformer.py"
    source.write_text(TRANSFORMER_SOURCE)
    estimator = joblib.load(sklearn_dir / "model.joblib")
    rows = iris[0][::25]
    args = [
        "custom",
        f"--model_class={source}:Centimetres",
        f"--model_name={SKLEARN}",
        f"--predictor_host={server.http_url.removeprefix('http://')}",
        "--predictor_protocol=v1",
        "--grpc_port=-1",
    ]
    with serve_in_subprocess(args, env={"NO_PROXY": "127.0.0.1,localhost"}) as transformer:
        resp = httpx.post(
            f"{transformer.http_url}/v1/models/{SKLEARN}:predict", json={"instances": (rows * 10).tolist()}
        )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"predictions": estimator.predict(rows).tolist(), "via": "transformer"}
