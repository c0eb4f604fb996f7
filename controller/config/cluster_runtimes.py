"""The built-in ClusterServingRuntimes: KServe's runtime names and formats, served by our image.

One place: :data:`BUILTIN_RUNTIMES` (a row of docs/contracts.md's "Runtimes" table each) renders the
ClusterServingRuntime objects that ``zeroserve up`` creates and that ``config/runtimes/`` holds for a
cluster install (a test keeps those files equal to :func:`runtime_files`). The controller also
falls back to them when the API server serves no ClusterServingRuntimes, and a build without a
runtime (the builders' own callers) selects from them. No other table of runtime facts exists: the
ports a model server listens on (:func:`protocol_ports`) are here too.

Formats, versions, ``autoSelect``/``priority`` and protocols are KServe's own
(``config/runtimes/*.yaml`` in kserve/kserve), except where our server serves more (gRPC v2 on the
sklearn/xgboost/lightgbm servers; v2 on the tensorflow one), the zeroserve-only rows, and
``kserve-mlserver``: its formats are not ``autoSelect`` here (KServe's priority 2 would take every
V2 sklearn/xgboost/lightgbm model from the framework servers, whose V2 answers, ``output-0``, differ
from MLServer's ``predict``); KServe's MLServer samples name ``runtime: kserve-mlserver``, which works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from zeroserve import __version__
from zeroserve.images import REPOSITORY, runtime_image

__all__ = [
    "BUILTIN_RUNTIMES",
    "GRPC_PORT",
    "HTTP_PORT",
    "IMAGE",
    "LEGACY_RUNTIME_NAMES",
    "MODEL_DIR",
    "BuiltinRuntime",
    "builtin_cluster_runtimes",
    "protocol_ports",
    "runtime_files",
    "server_args",
]

IMAGE = REPOSITORY
"""Our images' repository; each row's tag is :func:`zeroserve.images.runtime_image` of its ``serve``."""

HTTP_PORT = 8080
"""Where our model servers (and KServe's) serve REST: ``--http_port`` and the Prometheus port."""
GRPC_PORT = 8081
"""Where they serve gRPC (KServe's ``--grpc_port`` default)."""
MODEL_DIR = "/mnt/models"
"""Where a model server reads its model (the storage-initializer's volume, KServe's path)."""


def protocol_ports(protocol: str) -> list[dict[str, Any]]:
    """The container ``ports`` of a model server whose runtime's container declares none.

    Knative routes a revision's traffic to its one port: ``http1`` on :data:`HTTP_PORT` for REST
    protocols (``v1``, ``v2``), ``h2c`` on :data:`GRPC_PORT` for ``grpc-v1``/``grpc-v2``.

    Args:
        protocol: the model's ``protocolVersion``.

    Returns:
        A new list with one port.
    """
    if protocol.startswith("grpc"):
        return [{"name": "h2c", "containerPort": GRPC_PORT, "protocol": "TCP"}]
    return [{"name": "http1", "containerPort": HTTP_PORT, "protocol": "TCP"}]


_FormatRow = tuple[str, str, bool, int | None]
"""(name, version, autoSelect, priority)."""


@dataclass(frozen=True)
class BuiltinRuntime:
    """One row: the ClusterServingRuntime's name, formats, protocols and ``zeroserve serve`` args."""

    name: str
    serve: str
    formats: tuple[_FormatRow, ...]
    protocols: tuple[str, ...]
    extra_args: tuple[str, ...] = ()
    model_args: bool = True
    """Pass ``--model_name={{.Name}} --model_dir=/mnt/models`` (KServe's Python servers' args)."""
    server_type: str = ""
    env: tuple[tuple[str, str], ...] = ()
    resources: dict[str, Any] = field(
        default_factory=lambda: {
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"cpu": "1", "memory": "2Gi"},
        }
    )


BUILTIN_RUNTIMES: tuple[BuiltinRuntime, ...] = (
    BuiltinRuntime(
        "kserve-sklearnserver",
        "sklearn",
        (("sklearn", "1", True, 1),),
        ("v1", "v2", "grpc-v2"),
        server_type="sklearnserver",
    ),
    BuiltinRuntime(
        "kserve-xgbserver",
        "xgboost",
        (("xgboost", "2", True, 1),),
        ("v1", "v2", "grpc-v2"),
        extra_args=("--nthread=1",),
        server_type="xgbserver",
    ),
    BuiltinRuntime(
        "kserve-lgbserver",
        "lightgbm",
        (("lightgbm", "4", True, 1),),
        ("v1", "v2", "grpc-v2"),
        extra_args=("--nthread=1",),
        server_type="lgbserver",
    ),
    BuiltinRuntime(
        "kserve-tensorflow-serving",
        "tensorflow",
        (("tensorflow", "1", True, 2), ("tensorflow", "2", True, 2)),
        ("v1", "v2"),
        server_type="tensorflow-serving",
    ),
    BuiltinRuntime(
        "kserve-torchserve",
        "torchserve",
        (("pytorch", "1", True, 2),),
        ("v1", "v2", "grpc-v2"),
        server_type="torchserve",
    ),
    BuiltinRuntime(
        "zeroserve-torchscript",
        "torchscript",
        (("torchscript", "1", True, 1),),
        ("v1", "v2", "grpc-v2"),
    ),
    BuiltinRuntime(
        "kserve-tritonserver",
        "triton",
        (
            ("tensorflow", "1", True, 1),
            ("tensorflow", "2", True, 1),
            ("onnx", "1", True, 1),
            ("pytorch", "1", False, None),
            ("triton", "2", True, 1),
        ),
        ("v2", "grpc-v2"),
        model_args=False,
        extra_args=("--model-store=/mnt/models",),
        server_type="tritonserver",
    ),
    BuiltinRuntime("zeroserve-onnx", "onnx", (("onnx", "1", True, 2),), ("v1", "v2", "grpc-v2")),
    BuiltinRuntime(
        "kserve-pmmlserver",
        "pmml",
        (("pmml", "3", True, 1), ("pmml", "4", True, 1)),
        ("v1", "v2"),
        server_type="pmmlserver",
    ),
    # KServe lists paddle "2"; "3" too here: the server also loads Paddle 3's model.json programs
    BuiltinRuntime(
        "kserve-paddleserver",
        "paddle",
        (("paddle", "2", True, 1), ("paddle", "3", True, 1)),
        ("v1", "v2"),
        server_type="paddleserver",
    ),
    BuiltinRuntime(
        "kserve-mlserver",
        "mlserver",
        (
            ("sklearn", "0", False, None),
            ("sklearn", "1", False, None),
            ("xgboost", "1", False, None),
            ("xgboost", "2", False, None),
            ("lightgbm", "3", False, None),
            ("lightgbm", "4", False, None),
        ),
        ("v2",),
        server_type="mlserver",
        env=(("MLSERVER_MODEL_IMPLEMENTATION", "{{.Labels.modelClass}}"),),
    ),
    BuiltinRuntime("kserve-artexplainer", "art", (("art", "1", True, 1),), ("v1",), model_args=False),
    BuiltinRuntime("zeroserve-kernelshap", "kernelshap", (("kernelshap", "1", True, 1),), ("v1",)),
)
"""The rows of docs/contracts.md's "Runtimes" table (explainers included, as runtimes of their format)."""


LEGACY_RUNTIME_NAMES: dict[str, str] = {
    "zeroserve-sklearn": "kserve-sklearnserver",
    "zeroserve-xgboost": "kserve-xgbserver",
    "zeroserve-pytorch": "zeroserve-torchscript",
}
"""Runtime names of the earlier runtime table (``model.runtime: zeroserve-sklearn``) -> the
ClusterServingRuntime now serving them; used only when no runtime of the old name exists."""


def server_args(serve: str, model_name: str | None = "{{.Name}}", extra: tuple[str, ...] = ()) -> list[str]:
    """A model server's ``args``: ``serve <serve> [--model_name=.. --model_dir=..] [extra] --http_port=..``.

    Args:
        serve: the ``zeroserve serve`` sub-command.
        model_name: the model's name (a runtime's template by default); ``None``: no model flags
            (a server that finds its models itself, e.g. Triton's model store).
        extra: further flags, before ``--http_port``.

    Returns:
        The arguments (the image's entrypoint is ``zeroserve``).
    """
    args = ["serve", serve]
    if model_name is not None:
        args += [f"--model_name={model_name}", f"--model_dir={MODEL_DIR}"]
    return [*args, *extra, f"--http_port={HTTP_PORT}"]


def _object(row: BuiltinRuntime, version: str) -> dict[str, Any]:
    args = server_args(row.serve, "{{.Name}}" if row.model_args else None, row.extra_args)
    image = runtime_image(row.serve, version)
    container: dict[str, Any] = {"name": "kserve-container", "image": image, "args": args}
    if row.env:
        container["env"] = [{"name": k, "value": v} for k, v in row.env]
    container["resources"] = row.resources
    formats = []
    for name, fmt_version, auto, priority in row.formats:
        entry: dict[str, Any] = {"name": name, "version": fmt_version}
        if auto:
            entry["autoSelect"] = True
        if priority is not None:
            entry["priority"] = priority
        formats.append(entry)
    metadata: dict[str, Any] = {"name": row.name, "labels": {"app.kubernetes.io/part-of": "zeroserve"}}
    if row.server_type:
        metadata["annotations"] = {"serving.kserve.io/server-type": row.server_type}
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterServingRuntime",
        "metadata": metadata,
        "spec": {
            "annotations": {
                "prometheus.kserve.io/port": str(HTTP_PORT),
                "prometheus.kserve.io/path": "/metrics",
            },
            "supportedModelFormats": formats,
            "protocolVersions": list(row.protocols),
            "containers": [container],
        },
    }


def builtin_cluster_runtimes(version: str = __version__) -> list[dict[str, Any]]:
    """The built-in ClusterServingRuntime objects.

    Args:
        version: the images' version (this package's by default; runtimes whose framework is not in
            the platform image get that family's tag, e.g. ``<version>-torch``).

    Returns:
        One object per row of :data:`BUILTIN_RUNTIMES`.
    """
    return [_object(row, version) for row in BUILTIN_RUNTIMES]


def runtime_files(version: str = __version__) -> dict[str, str]:
    """The files of ``config/runtimes/``: one ``<name>.yaml`` per runtime and a kustomization."""
    header = "# Generated from zeroserve.controller.config.cluster_runtimes; do not edit.\n"
    files = {}
    for obj in builtin_cluster_runtimes(version):
        body = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=120)
        files[f"{obj['metadata']['name']}.yaml"] = header + body
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = header + yaml.safe_dump(kustomization, sort_keys=False)
    return files
