"""zeroserve's ``kserve`` package in-process: KServe's names, flags and signatures map onto zeroserve."""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kserve
import numpy as np
import pytest
from kserve import InferInput, InferRequest, Model, ModelServer, model_server
from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady, NoModelReady
from kserve.logging import configure_logging, logger
from kserve.model import PredictorProtocol
from kserve.predictor_config import PredictorConfig, get_predictor_config, set_predictor_config
from kserve.protocol.grpc import grpc_predict_v2_pb2
from kserve.storage import Storage
from kserve.utils import utils

from zeroserve.servers import Model as ZeroserveModel
from zeroserve.servers import ServerSettings
from zeroserve.servers.cli import server_flags


@pytest.fixture
def clean_predictor() -> Iterator[None]:
    set_predictor_config(None)
    yield
    set_predictor_config(None)


def test_the_package_is_zeroserves_and_exports_kserve_names() -> None:
    assert Path(kserve.__file__).parts[-3:-1] == ("kserve", "kserve")  # compat/kserve/kserve
    assert issubclass(Model, ZeroserveModel)
    assert kserve.InferResponse is kserve.protocol.infer_type.InferResponse
    assert grpc_predict_v2_pb2.ModelInferRequest(model_name="m").model_name == "m"
    assert PredictorProtocol.GRPC_V2.value == "grpc-v2"
    assert kserve.constants.DEFAULT_HTTP_PORT == 8080


def test_parser_is_extended_with_parents_as_users_write_it() -> None:
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("--top_k", type=int, default=5)
    args, unknown = parser.parse_known_args(
        ["--http_port", "9000", "--grpc_port", "9001", "--enable_grpc", "false", "--top_k", "3", "--mine"]
    )
    assert (args.http_port, args.grpc_port, args.enable_grpc, args.top_k) == (9000, 9001, False, 3)
    assert (args.model_name, args.predictor_protocol, args.workers, args.configure_logging) == (
        "model",
        "v1",
        1,
        True,
    )
    assert unknown == ["--mine"]


def test_model_server_arguments_become_settings(clean_predictor: None) -> None:
    server = ModelServer(http_port=0, grpc_port=0, workers=2, max_threads=7, timeout_keep_alive=5)
    s = server.settings
    assert (s.http_port, s.grpc_port, s.workers, s.grpc_max_threads, s.timeout_keep_alive) == (0, 0, 2, 7, 5)
    assert (server.http_port, server.workers, server.enable_grpc) == (0, 2, True)
    assert ModelServer(grpc_port=0, enable_grpc=False).settings.grpc_port == -1
    base = ServerSettings(http_port=1234, host="127.0.0.1")
    assert ModelServer(settings=base).settings.http_port == 1234  # no flag given: zeroserve's settings
    assert ModelServer(settings=base).settings.host == "127.0.0.1"


def test_https_is_refused_with_a_message(clean_predictor: None) -> None:
    with pytest.raises(ValueError, match="terminate TLS at the gateway"):
        ModelServer(ssl_certfile="cert.pem", ssl_keyfile="key.pem")


def test_model_takes_kserve_signatures(clean_predictor: None) -> None:
    assert Model("a", return_response_headers=True).required_response_headers
    assert Model("a", True).return_response_headers  # KServe 0.21: (name, return_response_headers)
    old = Model("a", PredictorConfig("pred:80", "v2"), True)  # before 0.15: (name, predictor_config, ...)
    assert (old.predictor_host, old.protocol, old.return_response_headers) == ("pred:80", "v2", True)
    assert Model("a", PredictorConfig(None)).predictor_config is None  # type: ignore[arg-type]
    plain = Model("a")
    assert plain.predictor_config is None
    set_predictor_config(PredictorConfig("pred:81", "grpc-v2", predictor_request_timeout_seconds=5))
    config = plain.predictor_config
    assert config is get_predictor_config() and config is not None
    assert (config.predictor_protocol, config.protocol, config.timeout) == ("grpc-v2", "grpc-v2", 5)  # type: ignore[attr-defined]
    assert config.predictor_base_url == "http://pred:81"  # type: ignore[attr-defined]


def test_server_flags_make_the_predictor_config(
    monkeypatch: pytest.MonkeyPatch, clean_predictor: None
) -> None:
    args = model_server.parser.parse_args(["--predictor_host", "p:9", "--predictor_protocol", "v2"])
    monkeypatch.setattr(model_server, "args", args)
    ModelServer(http_port=0, grpc_port=-1)
    config = Model("t").predictor_config
    assert config is not None and (config.predictor_host, config.predictor_protocol) == ("p:9", "v2")
    # the deprecated --protocol (still in KServe's docs) when --predictor_protocol is not given
    monkeypatch.setattr(
        model_server,
        "args",
        model_server.parser.parse_args(["--predictor_host", "p:9", "--protocol", "grpc-v2"]),
    )
    ModelServer(http_port=0, grpc_port=-1)
    config = Model("t").predictor_config
    assert config is not None and config.predictor_protocol == "grpc-v2"


def test_errors_answer_with_kserves_statuses() -> None:
    assert (InvalidInput("bad").status_code, InvalidInput("bad").grpc_code) == (400, "INVALID_ARGUMENT")
    assert (
        ModelNotFound("m").status_code == 404
        and str(ModelNotFound("m")) == "Model with name m does not exist."
    )
    assert ModelNotReady("m").status_code == 503
    assert str(NoModelReady([Model("a"), Model("b")])) == "Models with name a, b are not ready."


class _Broken(Model):
    def load(self) -> bool:
        return False


def test_no_ready_model_is_an_error(clean_predictor: None) -> None:
    server = ModelServer(http_port=0, grpc_port=-1)
    with pytest.raises(NoModelReady, match="Models with name broken are not ready"):
        asyncio.run(server.load_models([_Broken("broken")]))
    good = Model("good")
    asyncio.run(server.load_models([_Broken("broken"), good]))  # one ready model is enough
    assert server.repository.get_model("good") is good and server.repository.get_model("broken") is None


def test_customised_app_is_served_in_front_of_the_data_plane(clean_predictor: None) -> None:
    server = ModelServer(http_port=0, grpc_port=-1)
    assert server.create_application() is not model_server.app  # untouched: the data plane directly

    @model_server.app.get("/custom")
    def custom() -> dict[str, str]:
        return {"ok": "yes"}

    try:
        assert server.create_application() is model_server.app
        assert model_server.app.router.default is not None
    finally:
        model_server.app.router.routes.pop()


def test_logging_configuration(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging()
        assert logger.name == "kserve" and root.handlers
        config = {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {"kserve": {"level": "ERROR"}},
        }
        path = tmp_path / "log.json"
        path.write_text(json.dumps(config))
        configure_logging(str(path))
        assert logger.level == logging.ERROR
        with pytest.raises(ValueError, match=r"must end in \.json, \.yaml or \.yml"):
            configure_logging(str(tmp_path / "log.ini"))
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logger.setLevel(logging.NOTSET)


def test_utils() -> None:
    assert uuid.UUID(utils.generate_uuid()).version == 4
    assert (utils.strtobool("Yes"), utils.strtobool("off")) == (True, False)
    with pytest.raises(ValueError, match="invalid truth value"):
        utils.strtobool("maybe")
    assert utils.is_v2("grpc-v2") and utils.is_v1(PredictorProtocol.REST_V1) and not utils.is_v2("v1")
    assert utils.cpu_count() >= 1
    request = InferRequest("m", [InferInput("x", [1, 2], "FP32", [1.0, 2.0])])
    assert utils.get_predict_input(request).tolist() == [[1.0, 2.0]]
    reply = utils.get_predict_response({"instances": [[1, 2]]}, np.array([3]), "m")
    assert reply == {"predictions": [3]}


def test_zeroserve_server_flags_read_both_spellings() -> None:
    assert server_flags(
        ["sum", "--http_port", "9000", "--grpc-port=9001", "--enable_grpc", "false", "--x"]
    ) == {
        "http_port": 9000,
        "grpc_port": -1,
    }
    assert server_flags(["--workers", "2", "--max_threads", "3"]) == {"workers": 2, "grpc_max_threads": 3}
    assert server_flags([]) == {}


def test_the_package_imports_only_public_names_of_process_and_servers() -> None:
    package = Path(kserve.__file__).parent
    wrong = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules, names = [node.module], [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [alias.name for alias in node.names], []
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] != "zeroserve":
                    continue
                private = [n for n in names if n.startswith("_")]
                if len(parts) < 2 or parts[1] not in ("process", "servers") or private:
                    wrong.append(f"{path.relative_to(package)}:{node.lineno}: {module} {private}")
    assert not wrong, wrong


def test_storage_download_copies_a_local_model(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "model.joblib").write_bytes(b"weights")
    assert Storage.download(str(source)) == str(source)
    out = tmp_path / "out"
    assert Storage.download(f"file://{source}", str(out)) == str(out)
    assert (out / "model.joblib").read_bytes() == b"weights"
    single = tmp_path / "single"
    assert Storage.download_files(str(source / "model.joblib"), str(single)) == str(single)
    assert (single / "model.joblib").read_bytes() == b"weights"


class _Doubler(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name, return_response_headers=True)
        self.ready = True

    def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        return [2 * v for v in payload["instances"]]

    async def predict(
        self,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        assert response_headers is not None
        response_headers["x-rows"] = str(len(payload))
        return {"predictions": payload}


def test_calling_a_model_returns_the_response_and_its_headers() -> None:
    response, headers = asyncio.run(_Doubler("d")({"instances": [1, 2]}, {}))
    assert (response, headers) == ({"predictions": [2, 4]}, {"x-rows": "2"})
