"""``zeroserve build``: reading a model folder, its build context, the registry and the engine's plan.

Bad input is one line naming the file and line."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from zeroserve.build.context import dockerfile, write_context
from zeroserve.build.registry import BuiltImage, lookup, normalize, register
from zeroserve.build.source import BuildError, read_source
from zeroserve.images import model_server_image
from zeroserve.local.engine.images import ImageNotRunnable, ImageTable, plan_launch

MODEL = "class Model:\n    def predict(self, X, features_names=None):\n        return X\n"


def _folder(tmp_path: Path, environment: str | None = None, **files: str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    if environment is not None:
        (folder / ".s2i").mkdir()
        (folder / ".s2i" / "environment").write_text(environment)
    return folder


def test_seldon_folder_with_s2i_environment(tmp_path: Path) -> None:
    env = "# Seldon's keys\nMODEL_NAME=Scorer\nSERVICE_TYPE=transformer\nPERSISTENCE=0\n"
    env += "API_TYPE=REST\nZEROSERVE_X='y'\n"
    folder = _folder(tmp_path, env, **{"Scorer.py": "class Scorer:\n    pass\n"})
    source = read_source(folder)
    assert (source.kind, source.module, source.service_type) == ("seldon", "Scorer", "TRANSFORMER")
    assert source.environment["ZEROSERVE_X"] == "y"
    assert source.args() == [
        "serve",
        "seldon",
        "Scorer",
        "--service-type",
        "TRANSFORMER",
        "--persistence",
        "0",
    ]


def test_kserve_module_runs_as_a_script(tmp_path: Path) -> None:
    folder = _folder(tmp_path, **{"model.py": "import kserve\n", "helper.py": "X = 1\n"})
    source = read_source(folder)
    assert (source.kind, source.args()) == ("kserve", ["python", "model.py"])
    assert 'ENTRYPOINT ["python", "model.py"]' in dockerfile(source)


@pytest.mark.parametrize(
    ("environment", "files", "message"),
    [
        (None, {"helper.py": "X = 1\n"}, "no model module: expected Model.py"),
        ("MODEL_NAME=Model\nthis is not a pair\n", {"Model.py": MODEL}, "environment:2: expected KEY=VALUE"),
        (
            "\nSERVICE_TYPE=PREDICTOR\n",
            {"Model.py": MODEL},
            "environment:2: unknown SERVICE_TYPE 'PREDICTOR'",
        ),
        ("PERSISTENCE=yes\n", {"Model.py": MODEL}, "environment:1: unknown PERSISTENCE 'yes'"),
        ("MODEL_NAME=Scorer\n", {"Model.py": MODEL}, "environment:1: MODEL_NAME 'Scorer' but"),
    ],
)
def test_bad_folders_are_one_line(
    tmp_path: Path, environment: str | None, files: dict[str, str], message: str
) -> None:
    folder = _folder(tmp_path, environment, **files)
    with pytest.raises(BuildError) as info:
        read_source(folder)
    assert message in str(info.value) and "\n" not in str(info.value)
    done = (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "zeroserve",
                "build",
                str(folder),
                "-t",
                "x/y",
                "--state-dir",
                str(tmp_path / "s"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if environment and "PREDICTOR" in environment
        else None
    )
    if done is not None:
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_dockerfile_installs_requirements_in_a_layer_before_the_code(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "SERVICE_TYPE=MODEL\n",
        **{"Model.py": MODEL, "requirements.txt": "--find-links wheels\nx\n"},
    )
    (folder / "wheels").mkdir()
    (folder / "__pycache__").mkdir()
    source = read_source(folder)
    context = tmp_path / "context"
    text = write_context(source, context).read_text()
    lines = text.splitlines()
    assert lines[1] == f"FROM {model_server_image()}"
    assert (
        lines.index("COPY --chown=1000:1000 wheels /home/zeroserve/model/wheels")
        < lines.index("RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.txt")
        < lines.index("COPY --chown=1000:1000 . /home/zeroserve/model")
    )
    assert lines[-1] == 'CMD ["serve", "seldon", "Model", "--service-type", "MODEL", "--persistence", "0"]'
    assert (context / "Model.py").is_file() and not (context / "__pycache__").exists()


def test_registered_image_plans_a_fresh_process_with_its_own_interpreter(tmp_path: Path) -> None:
    state = tmp_path / "state"
    image = BuiltImage(
        "example.com/me/m",
        tmp_path,
        ["serve", "seldon", "Model"],
        {"MODEL_NAME": "Model"},
        "/env/bin/python",
        "/env",
        "h",
    )
    register(state, image)
    assert normalize("docker.io/library/m") == "m:latest"
    assert (
        lookup(state, "example.com/me/m:latest") is not None and lookup(state, "example.com/me/m:2") is None
    )
    common = {
        "model_dir": tmp_path,
        "ready_file": tmp_path / "r",
        "port": 0,
        "grpc_port": -1,
        "base_env": {"A": "1"},
    }
    container = {"image": "example.com/me/m", "env": [{"name": "MODEL_NAME", "value": "Other"}]}
    with pytest.raises(ImageNotRunnable, match="environment /env is gone; run 'zeroserve build FOLDER"):
        plan_launch(container, ImageTable.load(), state_dir=state, **common)  # type: ignore[arg-type]
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    register(state, dataclasses.replace(image, python=str(python)))
    plan = plan_launch(container, ImageTable.load(), state_dir=state, **common)  # type: ignore[arg-type]
    assert plan.argv[:6] == [str(python), "-m", "zeroserve", "serve", "seldon", "Model"]
    assert plan.cli_args is None and plan.cwd == str(tmp_path) and plan.ready_file == tmp_path / "r"
    assert plan.env["MODEL_NAME"] == "Other" and plan.env["A"] == "1"
    # other images are unchanged: still the table (and the zygote)
    other = plan_launch({"image": "kserve/sklearnserver:v1"}, ImageTable.load(), state_dir=state, **common)  # type: ignore[arg-type]
    assert other.cli_args is not None and other.argv[0] == sys.executable


def _podman_problem() -> str | None:
    podman = shutil.which("podman")
    if podman is None:
        return "podman is not installed (hack/install.sh installs it as root with apt-get)"
    info = subprocess.run([podman, "info"], capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0:
        return f"podman info fails here: {(info.stderr.strip().splitlines() or ['?'])[-1]}"
    return None


@pytest.mark.slow
def test_podman_builds_the_context(tmp_path: Path) -> None:
    problem = _podman_problem()
    if problem is not None:
        pytest.skip(problem)
    folder = _folder(tmp_path, "SERVICE_TYPE=ROUTER\n", **{"Model.py": MODEL})
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    tag = f"localhost/zeroserve-test-build-{os.getpid()}"
    base = f"{tag}-base:1"
    subprocess.run(["podman", "import", "-q", str(empty), base], capture_output=True, check=True, timeout=60)
    try:
        argv = [
            sys.executable,
            "-m",
            "zeroserve",
            "build",
            str(folder),
            "-t",
            f"{tag}:1",
            "--builder",
            "podman",
        ]
        argv += ["--base", base, "--no-register", "--state-dir", str(tmp_path / "state")]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        assert f"building {tag}:1 with podman" in done.stdout and "  | STEP" in done.stdout
        inspect = ["podman", "image", "inspect", f"{tag}:1", "--format", "{{json .Config.Cmd}}"]
        cmd = subprocess.run(inspect, capture_output=True, text=True, check=True, timeout=60).stdout
        assert json.loads(cmd) == [
            "serve",
            "seldon",
            "Model",
            "--service-type",
            "ROUTER",
            "--persistence",
            "0",
        ]
        assert not (tmp_path / "state" / "images").exists()  # --no-register
    finally:
        subprocess.run(
            ["podman", "rmi", "-f", f"{tag}:1", base], capture_output=True, check=False, timeout=60
        )
