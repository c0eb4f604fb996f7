"""One source of runtime facts: every model server the controller emits traces to ``BUILTIN_RUNTIMES``
(or to ``zeroserve.images`` and the InferenceService itself), and no second table hides in the code.

The retired runtime table (``controller/config/runtimes.yaml``) disagreed with the ClusterServingRuntimes
the reconciler used (``serve pytorch`` where KServe's rules pick TorchServe, no ``--nthread``); these
tests fail when a table like it comes back, as a data file or as literals in a module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.cluster_runtimes import (
    BUILTIN_RUNTIMES,
    GRPC_PORT,
    BuiltinRuntime,
    protocol_ports,
    server_args,
)
from zeroserve.controller.resources.containers import LOGGER_AGENT_PORT, main_container_index
from zeroserve.controller.resources.knative_service import build_component_service
from zeroserve.images import platform_image, runtime_image

from .test_builders import ISVC_CASES, golden_config, isvc_from, load

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ROOT / "controller"
FACTS_MODULE = CONTROLLER / "config" / "cluster_runtimes.py"
VERSION = "9.9.9"


def _predictor(model: dict[str, Any], name: str = "m") -> dict[str, Any]:
    isvc = default_inference_service(
        InferenceService.from_dict(
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": name, "namespace": "ns", "uid": "u"},
                "spec": {"predictor": {"model": {"storageUri": "s3://b/m", **model}}},
            }
        )
    )
    service = build_component_service(isvc, "predictor", ControllerConfig(version=VERSION))
    pod: dict[str, Any] = service["spec"]["template"]["spec"]
    main: dict[str, Any] = pod["containers"][main_container_index(pod["containers"])]
    return main


def _assert_traces_to(row: BuiltinRuntime, main: dict[str, Any], fmt: str, protocol: str) -> None:
    assert main["image"] == runtime_image(row.serve, VERSION), row.name
    expected_args = server_args(row.serve, "m" if row.model_args else None, row.extra_args)
    assert main["args"][: len(expected_args)] == expected_args, row.name
    assert main["ports"] == protocol_ports(protocol), row.name
    assert main["resources"] == row.resources, row.name
    assert fmt in {f[0] for f in row.formats} and protocol in row.protocols, row.name


_ROW_MODELS = [
    (row, name, version, protocol)
    for row in BUILTIN_RUNTIMES
    for name, version, _auto, _priority in row.formats
    for protocol in row.protocols
]


@pytest.mark.parametrize(
    ("row", "fmt", "version", "protocol"),
    _ROW_MODELS,
    ids=[f"{r.name}-{f}{v}-{p}" for r, f, v, p in _ROW_MODELS],
)
def test_every_builtin_runtime_named_by_a_model_builds_its_own_container(
    row: BuiltinRuntime, fmt: str, version: str, protocol: str
) -> None:
    model = {
        "modelFormat": {"name": fmt, "version": version},
        "protocolVersion": protocol,
        "runtime": row.name,
    }
    _assert_traces_to(row, _predictor(model), fmt, protocol)


_AUTO_MODELS = sorted(
    {
        (name, protocol)
        for row in BUILTIN_RUNTIMES
        for name, _v, auto, _p in row.formats
        if auto
        for protocol in row.protocols
    }
)


@pytest.mark.parametrize(("fmt", "protocol"), _AUTO_MODELS, ids=[f"{f}-{p}" for f, p in _AUTO_MODELS])
def test_every_model_without_a_runtime_gets_a_builtin_runtimes_container(fmt: str, protocol: str) -> None:
    main = _predictor({"modelFormat": {"name": fmt}, "protocolVersion": protocol})
    [row] = [r for r in BUILTIN_RUNTIMES if r.serve == main["args"][1]]
    _assert_traces_to(row, main, fmt, protocol)


def _values(data: Any, key: str) -> set[Any]:
    """Every value of ``key`` anywhere in ``data``."""
    found: set[Any] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key and not isinstance(v, dict | list):
                found.add(v)
            found |= _values(v, key)
    elif isinstance(data, list):
        for item in data:
            found |= _values(item, key)
    return found


@pytest.mark.parametrize("case", ISVC_CASES)
def test_every_image_and_port_of_the_golden_cases_has_one_source(case: str) -> None:
    config = golden_config()
    data = load("isvc", case)
    known_images = {runtime_image(row.serve, config.version) for row in BUILTIN_RUNTIMES} | {
        platform_image(config.version),
        config.router_image,
        config.storage_initializer_image,
        *_values(data, "image"),  # the InferenceService's own
    }
    known_ports = {p["containerPort"] for proto in ("v1", "grpc-v2") for p in protocol_ports(proto)}
    known_ports |= {LOGGER_AGENT_PORT, *_values(data, "containerPort")}
    isvc = isvc_from(data)
    for component in isvc.spec.components():
        pod = build_component_service(isvc, component, config)["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            assert container["image"] in known_images, f"{case}/{component}: {container['image']}"
            for port in container.get("ports", []):
                assert port["containerPort"] in known_ports, f"{case}/{component}: {port}"


def test_the_controller_ships_no_runtime_data_file() -> None:
    """A table as YAML/JSON beside the code is what runtimes.yaml was."""
    data = sorted(
        str(p.relative_to(ROOT))
        for p in CONTROLLER.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc", ".md"} and "__pycache__" not in p.parts
    )
    assert data == [], f"runtime facts belong in {FACTS_MODULE.relative_to(ROOT)}: {data}"


_FACT_STRINGS = re.compile(
    r"ghcr\.io/|\{\{\.|^--(model_dir|model_name|http_port|grpc_port|model-store)=|^h2c$"
)
"""Literals of a runtime table: our image repository (zeroserve.images names it), runtime templates,
model server flags with their values baked in, the gRPC port's name (and number, GRPC_PORT)."""


def _literals(path: Path) -> list[tuple[int, object]]:
    tree = ast.parse(path.read_text())
    docs = {
        id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    found: list[tuple[int, object]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docs:
            continue
        value = node.value
        is_fact = _FACT_STRINGS.search(value) if isinstance(value, str) else value == GRPC_PORT
        if is_fact and not isinstance(value, bool):
            found.append((node.lineno, value))
    return found


def test_runtime_facts_are_written_only_beside_builtin_runtimes() -> None:
    assert _literals(FACTS_MODULE), "the scan finds the facts where they are (else it finds nothing anywhere)"
    stray = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in sorted(CONTROLLER.rglob("*.py"))
        if path != FACTS_MODULE
        for line, value in _literals(path)
    ]
    assert not stray, (
        "runtime facts outside controller/config/cluster_runtimes.py (use BUILTIN_RUNTIMES, server_args, "
        "protocol_ports, zeroserve.images):\n" + "\n".join(stray)
    )


def test_the_scan_sees_a_second_table(tmp_path: Path) -> None:
    table = tmp_path / "table.py"
    table.write_text(
        '"""A docstring may say ghcr.io/zeroserve/zeroserve:{{.Version}}."""\n'
        'TABLE = {"sklearn": {"image": "ghcr.io/zeroserve/zeroserve:1", "args": ["--http_port=8080"]},\n'
        '         "grpc": [{"name": "h2c", "containerPort": 8081}]}\n'
    )
    assert [value for _, value in _literals(table)] == [
        "ghcr.io/zeroserve/zeroserve:1",
        "--http_port=8080",
        "h2c",
        8081,
    ]
