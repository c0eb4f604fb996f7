"""The model folder's own virtual environment, for running its image on the embedded platform.

Built once per content hash (``requirements.txt``, the local files it names, the Python version and
the zeroserve environment it extends) under ``<state folder>/build/envs/<hash>``, and reused while the
hash is unchanged. It is a plain ``venv`` (``uv venv`` when ``uv`` is present) whose ``site-packages``
holds only the folder's requirements; a ``.pth`` file then adds zeroserve's own ``site-packages``
behind them (``site.addsitedir``, so editable installs resolve too). That is ``--system-site-packages``
for the environment zeroserve runs in: the model sees zeroserve and its dependencies without a copy of
them (hundreds of MB, a minute of installing), and its own pins win over ours. Requirements are
installed with ``uv pip`` when ``uv`` is present, else with this interpreter's ``pip --python``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zeroserve.build.source import BuildError, ModelSource

__all__ = ["Environment", "ensure_environment", "local_paths", "requirements_hash"]

_PATH_OPTIONS = ("-f", "--find-links", "-r", "--requirement", "-c", "--constraint")
_MARKER = ".zeroserve-env"
_ERROR_MARKS = ("ERROR:", "error:", "cause:", "Caused by:", "╰─▶", "\u00d7")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Environment:
    """A built environment."""

    path: Path
    python: Path
    hash: str
    reused: bool


def _strip(line: str) -> str:
    return re.sub(r"(^|\s)#.*$", "", line).strip()


def local_paths(requirements: Path) -> list[Path]:
    """The local files and folders a requirements file names (``--find-links DIR``, ``./pkg.whl``, ``-r``).

    Args:
        requirements: the file (relative paths are resolved against its folder).

    Returns:
        The existing paths, absolute, in file order.
    """
    base = requirements.parent
    found: list[Path] = []
    for line in requirements.read_text().splitlines():
        tokens = shlex.split(_strip(line)) if _strip(line) else []
        for i, token in enumerate(tokens):
            value = token
            for option in _PATH_OPTIONS:
                if token.startswith(option + "="):
                    value = token.split("=", 1)[1]
            if token in _PATH_OPTIONS and i + 1 < len(tokens):
                continue
            if "://" in value or value.startswith("-"):
                continue
            candidate = (base / value).resolve()
            named = i > 0 and tokens[i - 1] in _PATH_OPTIONS
            pathlike = value.startswith((".", "/")) or value.endswith((".whl", ".tar.gz", ".zip"))
            if (named or pathlike) and candidate.exists() and candidate not in found:
                found.append(candidate)
    return found


def requirements_hash(source: ModelSource) -> str:
    """The cache key of a folder's environment.

    Args:
        source: the folder.

    Returns:
        A sha256 hex digest over the requirements, the local files they name, the Python version and
        the zeroserve environment (``sys.prefix``).
    """
    digest = hashlib.sha256()
    digest.update(f"{sys.version_info[:3]}\0{sys.prefix}\0".encode())
    if source.requirements is not None:
        digest.update(source.requirements.read_bytes())
        for path in local_paths(source.requirements):
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                digest.update(f"\0{file.name}\0".encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def _run(argv: list[str], cwd: Path, progress: Progress) -> tuple[int, list[str]]:
    lines: list[str] = []
    with subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            progress(f"  | {line.rstrip()}")
    return proc.returncode, lines


def _failure(source: ModelSource, lines: list[str]) -> str:
    assert source.requirements is not None
    errors: list[str] = []
    for raw in lines:
        text = raw.strip()
        for mark in _ERROR_MARKS:  # pip's "ERROR:", uv's "error:" and its causes
            if text.startswith(mark):
                errors.append(text.removeprefix(mark).strip())
                break
    reason = errors[-1] if errors else (lines[-1].strip() if lines else "the installer failed")
    for number, raw in enumerate(source.requirements.read_text().splitlines(), start=1):
        line = _strip(raw)
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[\s<>=!~\[;@]", line, maxsplit=1)[0]
        if name and re.search(rf"\b{re.escape(name)}\b", " ".join(errors), re.IGNORECASE):
            return f"{source.requirements}:{number}: cannot install {line!r}: {reason}"
    return f"{source.requirements}: cannot install the requirements: {reason}"


def _create(target: Path, progress: Progress) -> Path:
    uv = _uv()
    if uv is not None:
        argv = [uv, "venv", "--quiet", "--python", sys.executable, str(target)]
    else:
        argv = [sys.executable, "-m", "venv", "--without-pip", str(target)]
    code, lines = _run(argv, target.parent, progress)
    if code != 0:
        raise BuildError(f"{target}: cannot create a virtual environment: {lines[-1] if lines else code}")
    python = target / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    lines_pth = [f"import site; site.addsitedir({p!r})" for p in ours]
    (Path(purelib) / "zeroserve-host.pth").write_text("\n".join(lines_pth) + "\n")
    return python


def ensure_environment(source: ModelSource, envs_dir: Path, progress: Progress) -> Environment:
    """Build the folder's environment, or reuse the one built for the same requirements.

    Args:
        source: the folder.
        envs_dir: where environments live (``<state>/build/envs``).
        progress: receives one line per step (and the installer's output).

    Returns:
        The environment.

    Raises:
        BuildError: the environment could not be created, or a requirement could not install (one line:
            file, line, requirement and the installer's reason).
    """
    key = requirements_hash(source)
    final = envs_dir / key[:20]
    python = final / "bin" / "python"
    if (final / _MARKER).is_file() and python.exists():
        progress(f"environment {final} reused (requirements unchanged)")
        return Environment(final, python, key, True)
    envs_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(final, ignore_errors=True)  # a build that stopped half-way
    tool = "uv" if _uv() else "venv + pip"
    progress(f"environment {final}: creating ({tool}, Python {sys.version.split()[0]})")
    try:
        _create(final, progress)
        if source.requirements is not None:
            progress(f"environment: installing {source.requirements.name}")
            uv = _uv()
            if uv is not None:
                argv = [uv, "pip", "install", "--python", str(python), "-r", str(source.requirements)]
            else:
                argv = [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    str(python),
                    "install",
                    "--disable-pip-version-check",
                    "--progress-bar",
                    "off",
                    "-r",
                    str(source.requirements),
                ]
            code, lines = _run(argv, source.folder, progress)
            if code != 0:
                raise BuildError(_failure(source, lines))
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        raise
    (final / _MARKER).write_text(key + "\n")
    progress(f"environment {final}: ready")
    return Environment(final, python, key, False)
