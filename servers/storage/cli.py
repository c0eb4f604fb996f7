"""``zeroserve storage-initializer <srcURI> <destPath>``: KServe's storage-initializer init container.

Downloads (or copies) the model at a ``storageUri`` into a folder, logging progress as JSON lines on
stderr. Several ``<srcURI> <destPath>`` pairs may follow each other, as KServe allows. The exit code
is 0 on success, 1 when a download fails, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeroserve storage-initializer",
        description="Download a model storageUri into a folder (KServe's storage-initializer).",
    )
    parser.add_argument(
        "pairs", nargs="+", metavar="srcURI destPath", help="source URI and destination folder"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="model cache folder (default: ZEROSERVE_STORAGE_CACHE_DIR or ~/.cache/zeroserve/models)",
    )
    parser.add_argument(
        "--use-cache",
        action="store_true",
        help="resolve through the model cache and copy from there (default: download straight into destPath)",
    )
    parser.add_argument("--log-level", default="INFO", help="log level (default INFO)")
    return parser


def main(argv: list[str]) -> int:
    """Run the storage-initializer.

    Args:
        argv: ``<srcURI> <destPath> [<srcURI> <destPath> ...]`` and options.

    Returns:
        0 on success, 1 when a download fails, 2 on bad arguments.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.print_usage(sys.stderr)
        print("zeroserve storage-initializer: expected pairs of <srcURI> <destPath>", file=sys.stderr)
        return 2

    from zeroserve.process.logs import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("zeroserve")
    log.addHandler(handler)
    log.setLevel(args.log_level.upper())
    try:
        return _run(args)
    finally:
        log.removeHandler(handler)


def _run(args: argparse.Namespace) -> int:
    from zeroserve.servers.storage import ModelStorage, StorageError, StorageSettings
    from zeroserve.servers.storage.credentials import apply_storage_config

    log = logging.getLogger(__name__)
    try:
        # KServe's storage spec: STORAGE_CONFIG (+ STORAGE_OVERRIDE_CONFIG) -> the backends' variables
        added = apply_storage_config(os.environ)
    except StorageError as exc:
        log.error("storage-initializer: %s", exc)
        return 2
    if added:
        log.info("storage credentials from STORAGE_CONFIG: %s", ", ".join(sorted(added)))
    settings = StorageSettings() if args.cache_dir is None else StorageSettings(cache_dir=args.cache_dir)
    storage = ModelStorage(settings)
    pairs = list(zip(args.pairs[::2], args.pairs[1::2], strict=True))
    for uri, dest in pairs:
        log.info("initializing model from %s into %s", uri, dest, extra={"uri": uri, "dest": dest})
        try:
            if args.use_cache:
                storage.download(str(storage.resolve(uri)), Path(dest))
            else:
                storage.download(uri, Path(dest))
        except StorageError as exc:
            log.error("storage-initializer failed for %s: %s", uri, exc, extra={"uri": uri})
            return 1
        log.info("model from %s is in %s", uri, dest, extra={"uri": uri, "dest": dest})
    return 0
