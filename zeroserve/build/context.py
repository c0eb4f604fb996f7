"""The build context of a model folder, and the container builders that build it.

The context is a copy of the folder (without ``.git``, ``__pycache__``, virtual environments) plus a
``Dockerfile`` FROM our model-server image (:func:`zeroserve.images.model_server_image`). The
requirements (and the local files they name) are copied and installed in a layer of their own before
the code, so a code change reuses it; ``.s2i/environment`` becomes ``ENV``; the ``CMD`` is what
Seldon's s2i image runs (``serve seldon MODEL_NAME --service-type ... --persistence ...``, the image's
entrypoint being ``zeroserve``) or, for a kserve module, ``python MODULE.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from zeroserve.build.environment import local_paths
from zeroserve.build.source import BuildError, ModelSource
from zeroserve.images import HOME, USER, model_server_image

__all__ = ["BUILDERS", "build_image", "find_builder", "write_context"]

BUILDERS = ("podman", "docker", "buildah")
"""The builders ``--builder auto`` tries, in order."""
_IGNORED = (".git", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache", "*.pyc")
APP_DIR = f"{HOME}/model"
"""Where the folder goes in the image (its ``WORKDIR``)."""


def dockerfile(source: ModelSource, base: str | None = None) -> str:
    """The Dockerfile of a model folder.

    Args:
        source: the folder.
        base: the base image (default: our model-server image of this version).

    Returns:
        The Dockerfile's text.
    """
    lines = [
        "# written by `zeroserve build`",
        f"FROM {base or model_server_image()}",
        f"WORKDIR {APP_DIR}",
    ]
    if source.environment:
        pairs = " ".join(f"{k}={json.dumps(v)}" for k, v in source.environment.items())
        lines.append(f"ENV {pairs}")
    if source.requirements is not None:
        files = ["requirements.txt"]
        for path in local_paths(source.requirements):
            if path.is_relative_to(source.folder):
                files.append(str(path.relative_to(source.folder)))
        for rel in files:
            lines.append(f"COPY --chown={USER} {rel} {APP_DIR}/{rel}")
        lines.append("RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.txt")
    lines.append(f"COPY --chown={USER} . {APP_DIR}")
    args = source.args()
    if source.kind == "kserve":
        lines.append(f"ENTRYPOINT {json.dumps(args)}")
        lines.append("CMD []")
    else:
        lines.append(f"CMD {json.dumps(args)}")
    return "\n".join(lines) + "\n"


def write_context(source: ModelSource, target: Path, base: str | None = None) -> Path:
    """Write the build context: the folder's files and the Dockerfile.

    Args:
        source: the folder.
        target: the context folder (replaced).
        base: the base image (default: our model-server image).

    Returns:
        The Dockerfile's path.
    """
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source.folder, target, ignore=shutil.ignore_patterns(*_IGNORED))
    path = target / "Dockerfile"
    path.write_text(dockerfile(source, base))
    (target / ".dockerignore").write_text("\n".join(["Dockerfile", ".dockerignore", *_IGNORED]) + "\n")
    return path


def find_builder(choice: str) -> str | None:
    """The builder program to use.

    Args:
        choice: ``auto`` (the first of :data:`BUILDERS` on ``PATH``), ``none``, or a builder's name.

    Returns:
        The program's path, or ``None`` when there is none (or ``none`` was asked for).

    Raises:
        BuildError: a named builder is not on ``PATH``.
    """
    if choice == "none":
        return None
    if choice == "auto":
        for name in BUILDERS:
            found = shutil.which(name)
            if found:
                return found
        return None
    found = shutil.which(choice)
    if found is None:
        raise BuildError(f"--builder {choice}: {choice} is not installed (not on PATH)")
    return found


def build_image(builder: str, context: Path, image: str, progress: Callable[[str], None]) -> None:
    """Build the context into ``image`` with a builder, its output passed to ``progress`` line by line.

    Args:
        builder: the builder's path (podman, docker or buildah).
        context: the context folder (with its Dockerfile).
        image: the tag.
        progress: receives each line.

    Raises:
        BuildError: the builder failed (its last line says why).
    """
    verb = ["bud"] if Path(builder).name == "buildah" else ["build"]
    argv = [builder, *verb, "-t", image, "-f", str(context / "Dockerfile"), str(context)]
    progress(f"building {image} with {Path(builder).name}")
    last = ""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                last = line.strip()
            progress(f"  | {line.rstrip()}")
    if proc.returncode != 0:
        raise BuildError(
            f"{Path(builder).name} could not build {image} (exit code {proc.returncode}): {last}"
        )
