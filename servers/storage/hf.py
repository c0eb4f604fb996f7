"""``hf://<org>/<model>[:<revision>]`` resolved from the local Hugging Face cache (no download).

The cache is ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``; a model is
``models--<org>--<model>/snapshots/<commit>``, the commit named by ``refs/<revision>`` (``main`` by
default) or given directly.
"""

from __future__ import annotations

import os
from pathlib import Path

from zeroserve.servers.storage.errors import StorageNotFoundError, UnsupportedURIError

__all__ = ["hf_cache_dir", "locate_hf"]


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder this process would use."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def locate_hf(uri: str, cache: Path | None = None) -> Path:
    """The snapshot folder of ``hf://org/model[:revision]`` in the local cache.

    Args:
        uri: the URI.
        cache: the hub cache folder; :func:`hf_cache_dir` when omitted.

    Raises:
        UnsupportedURIError: the URI does not name ``org/model``.
        StorageNotFoundError: the model or revision is not in the cache (the message says how to add it).
    """
    rest = uri.strip()[len("hf://") :].strip("/")
    repo, _, revision = rest.partition(":")
    if not repo or any(part in ("", ".", "..") for part in repo.split("/")):
        raise UnsupportedURIError(f"storage URI {uri!r}: expected hf://<org>/<model>[:<revision>]")
    revision = revision or "main"
    root = cache or hf_cache_dir()
    folder = root / ("models--" + repo.replace("/", "--"))
    hint = (
        f"fill the cache first (huggingface-cli download {repo} --revision {revision}); "
        "zeroserve does not download"
    )
    if not folder.is_dir():
        raise StorageNotFoundError(f"{uri}: {repo} is not in the Hugging Face cache at {root}; {hint}")
    ref = folder / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    snapshot = folder / "snapshots" / commit
    if not snapshot.is_dir():
        raise StorageNotFoundError(
            f"{uri}: revision {revision} of {repo} is not in the cache at {folder}; {hint}"
        )
    return snapshot
