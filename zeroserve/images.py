"""The one place that names our images: repository, tags per runtime family, and build targets.

Every image we ship lives in one repository, :data:`REPOSITORY`; the tag says which runtime family it
holds (``<version>`` the platform image, ``<version>-torch``, ``<version>-tensorflow``,
``<version>-onnx``, ``<version>-paddle``, ``<version>-gpu``, ``<version>-slim``). Each tag is one target of
``images/Dockerfile``, built by ``hack/build-images.sh``. The controller's defaults, the built-in
ClusterServingRuntimes (``config/runtimes/``), the explainers and ``config/`` read their names from
here; ``test/images/`` checks that every image they name has a build target.

Any layer may import this module; it imports only ``zeroserve`` itself.

Building FROM the model-server image (``zeroserve build``): the image has a virtual environment at
:data:`VENV` (on ``PATH``, with ``pip``; no compilers), runs as :data:`USER` (uid 1000, home
:data:`HOME`, also the ``WORKDIR``) and its ``ENTRYPOINT`` is ``["zeroserve"]``, so ``CMD``/``args``
start with the sub-command (``serve seldon Model`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroserve import __version__

__all__ = [
    "DOCKERFILE",
    "HOME",
    "REPOSITORY",
    "SOURCE",
    "TARGETS",
    "USER",
    "VENV",
    "ImageTarget",
    "image",
    "model_server_image",
    "platform_image",
    "runtime_image",
    "target_of",
]

REPOSITORY = "ghcr.io/zeroserve/zeroserve"
"""The repository of every image we ship (the local engine's image table runs it as ``zeroserve``)."""
SOURCE = "https://github.com/zeroserve/zeroserve"
"""The ``org.opencontainers.image.source`` label."""
DOCKERFILE = "images/Dockerfile"
"""The Dockerfile (relative to the repository root) whose targets are :data:`TARGETS`."""
VENV = "/opt/zeroserve"
"""The images' virtual environment (its ``bin`` is first on ``PATH``; ``pip`` is in it)."""
USER = "1000:1000"
"""The non-root user every image runs as (KServe's uid)."""
HOME = "/home/zeroserve"
"""That user's home and the images' ``WORKDIR``."""


@dataclass(frozen=True)
class ImageTarget:
    """One image: its Dockerfile target, tag suffix, extras installed and base."""

    target: str
    suffix: str
    """Appended to the version in the tag (``""``: the bare version)."""
    extras: tuple[str, ...]
    """The package's extras installed (``pyproject.toml``)."""
    base: str
    """``cpu`` (``python:3.12-slim-bookworm``) or ``cuda`` (``nvidia/cuda`` runtime)."""
    holds: str
    """What runs on it, for docs and ``hack/build-images.sh --list``."""


_PLATFORM_EXTRAS = ("sklearn", "xgboost", "lightgbm", "pandas", "explain", "monitoring", "s3", "gcs")

TARGETS: tuple[ImageTarget, ...] = (
    ImageTarget(
        "server",
        "",
        _PLATFORM_EXTRAS,
        "cpu",
        "the platform image: controller, router, logger-agent, detectors, storage-initializer, explainers "
        "(art, kernelshap) and the sklearn, xgboost, lightgbm, pmml, mlserver and seldon servers",
    ),
    ImageTarget(
        "server-torch",
        "-torch",
        (*_PLATFORM_EXTRAS, "pytorch", "onnx"),
        "cpu",
        "the platform image + torch (CPU build) + onnxruntime: torchserve, torchscript, triton",
    ),
    ImageTarget(
        "server-tensorflow",
        "-tensorflow",
        (*_PLATFORM_EXTRAS, "tensorflow"),
        "cpu",
        "the platform image + tensorflow-cpu: tensorflow-serving",
    ),
    ImageTarget(
        "server-onnx",
        "-onnx",
        (*_PLATFORM_EXTRAS, "onnx"),
        "cpu",
        "the platform image + onnxruntime: onnx",
    ),
    ImageTarget(
        "server-paddle",
        "-paddle",
        (*_PLATFORM_EXTRAS, "paddle"),
        "cpu",
        "the platform image + paddlepaddle (CPU): paddle",
    ),
    ImageTarget(
        "server-gpu",
        "-gpu",
        ("sklearn", "xgboost-gpu", "lightgbm", "pandas", "pytorch", "onnx", "s3", "gcs"),
        "cuda",
        "GPU predictors on the nvidia/cuda runtime base: torch (CUDA build), xgboost with CUDA, onnx",
    ),
    ImageTarget(
        "slim",
        "-slim",
        ("s3", "gcs"),
        "cpu",
        "core only: controller, router, logger-agent, storage-initializer, kernelshap (no ML frameworks)",
    ),
)
"""Every image ``images/Dockerfile`` builds, one per target."""

_EXTRA_TARGET = {
    "pytorch": "server-torch",
    "torch": "server-torch",
    "tensorflow": "server-tensorflow",
    "onnx": "server-onnx",
    "paddle": "server-paddle",
    "gpu": "server-gpu",
    "cuda": "server-gpu",
    "xgboost-gpu": "server-gpu",
}
"""Extras (or families) that need more than the platform image -> the target holding them."""

_RUNTIME_TARGET = {
    "tensorflow": "server-tensorflow",
    "torchserve": "server-torch",
    "torchscript": "server-torch",
    "pytorch": "server-torch",
    "triton": "server-torch",
    "onnx": "server-onnx",
    "paddle": "server-paddle",
}
"""``zeroserve serve`` runtimes outside the platform image -> the target that serves them."""


def _target(name: str) -> ImageTarget:
    for target in TARGETS:
        if target.target == name:
            return target
    raise KeyError(f"no image target {name!r}; targets: {', '.join(t.target for t in TARGETS)}")


def image(target: str = "server", version: str = __version__) -> str:
    """The full name of one target's image.

    Args:
        target: a :data:`TARGETS` entry's ``target``.
        version: the tag's version (this package's by default; ``{{.Version}}`` for templates).

    Returns:
        ``ghcr.io/zeroserve/zeroserve:<version><suffix>``; ``KeyError`` for an unknown target.
    """
    return f"{REPOSITORY}:{version}{_target(target).suffix}"


def platform_image(version: str = __version__) -> str:
    """The platform image (controller, router, logger agent, detectors, storage-initializer)."""
    return image("server", version)


def model_server_image(version: str = __version__, extra: str | None = None) -> str:
    """The model-server image that holds ``extra``: the one to build a user's model image FROM.

    Args:
        version: the tag's version (this package's by default).
        extra: a ``pyproject.toml`` extra or family (``pytorch``, ``tensorflow``, ``onnx``, ``gpu``);
            ``None`` or any extra of the platform image (``sklearn``, ``xgboost`` ...) gives the
            platform image.

    Returns:
        The image name, e.g. ``ghcr.io/zeroserve/zeroserve:0.1.0-torch`` for ``pytorch``.
    """
    return image(_EXTRA_TARGET.get(extra or "", "server"), version)


def runtime_image(serve: str, version: str = __version__) -> str:
    """The image of a built-in runtime, by its ``zeroserve serve`` sub-command.

    Args:
        serve: the sub-command (``sklearn``, ``tensorflow``, ``triton`` ...).
        version: the tag's version.

    Returns:
        The image that holds that runtime's framework.
    """
    return image(_RUNTIME_TARGET.get(serve, "server"), version)


def target_of(name: str) -> ImageTarget | None:
    """The target that builds an image name of ours (any version), or ``None`` for another image."""
    repository, sep, tag = name.rpartition(":")
    if not sep or repository != REPOSITORY:
        return None
    for target in sorted(TARGETS, key=lambda t: -len(t.suffix)):
        if tag.endswith(target.suffix):
            return target
    return None
