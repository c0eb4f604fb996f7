"""``zeroserve detector drift|outlier``: a drift or outlier detector as a process.

It follows the process conventions of ``docs/contracts.md`` through :mod:`zeroserve.process`:
``--http-port`` (or ``PORT``, else 8080; 0 binds a free port; a busy port is one line naming it
and the flag), ``--ready-file`` with ``{"pid", "http_port", "grpc_port"}`` once bound, JSON log
lines on stderr, and an ``(argv) -> int`` entry point with no import-time work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from zeroserve.process.listen import PortInUse, bind_socket, default_http_port
from zeroserve.process.logs import configure_logging
from zeroserve.process.serve import serve_app

__all__ = ["build_parser", "detector"]

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments (alibi-detect-server's spellings accepted too)."""
    parser = argparse.ArgumentParser(prog="zeroserve detector", description="drift or outlier detector")
    parser.add_argument("kind", choices=["drift", "outlier"])
    parser.add_argument("--http-port", "--http_port", "--port", dest="http_port", type=int, default=None)
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default all)")
    parser.add_argument("--ready-file", dest="ready_file", type=Path, default=None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--reference-uri", "--storage-uri", "--storage_uri", dest="reference_uri")
    source.add_argument("--fit-first", dest="fit_first", type=int, help="fit the reference on the first N")
    parser.add_argument("--sink", "--reply-url", "--reply_url", dest="sink", help="POST results here")
    parser.add_argument("--name", "--model-name", "--model_name", dest="name", default=None)
    parser.add_argument("--event-source", "--event_source", dest="event_source", default=None)
    drift = parser.add_argument_group("drift")
    drift.add_argument("--test", dest="drift_test", choices=["ks", "mmd"], default="ks", help="drift test")
    drift.add_argument("--p-val", dest="p_val", type=float, default=0.05)
    drift.add_argument("--correction", choices=["bonferroni", "fdr"], default="bonferroni")
    drift.add_argument(
        "--window", "--drift-batch-size", "--drift_batch_size", dest="window", type=int, default=500
    )
    drift.add_argument("--window-mode", dest="window_mode", choices=["batch", "sliding"], default="batch")
    outlier = parser.add_argument_group("outlier")
    outlier.add_argument("--method", choices=["mahalanobis", "isolationforest"], default="mahalanobis")
    outlier.add_argument("--threshold", type=float, default=None)
    outlier.add_argument("--threshold-percentile", dest="threshold_percentile", type=float, default=99.5)
    return parser


def detector(argv: list[str]) -> int:
    """``zeroserve detector drift|outlier [--reference-uri URI | --fit-first N] [--sink URL] ...``.

    Args:
        argv: the command's arguments.

    Returns:
        The exit code: 0 after a clean stop, 1 for unreadable reference data, 2 for a busy port.
    """
    args = build_parser().parse_args(argv)
    configure_logging()

    from prometheus_client import CollectorRegistry

    from zeroserve.monitoring.reference import ReferenceDataError, load_reference
    from zeroserve.monitoring.sender import ResultSender
    from zeroserve.monitoring.server import DetectorService, build_method

    if args.kind == "drift":
        build = build_method(
            "drift",
            test=args.drift_test,
            p_val=args.p_val,
            correction=args.correction,
            window=args.window,
            mode=args.window_mode,
        )
    else:
        build = build_method(
            "outlier",
            method=args.method,
            threshold=args.threshold,
            threshold_percentile=args.threshold_percentile,
        )
    reference = None
    if args.reference_uri:
        try:
            reference = load_reference(args.reference_uri)
        except ReferenceDataError as exc:
            log.error("%s", exc)
            return 1
    port = args.http_port if args.http_port is not None else default_http_port()
    try:
        sock = bind_socket(args.host, port, flag="--http-port")
    except PortInUse as exc:
        print(f"zeroserve detector: {exc}", file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    sink = ResultSender(args.sink, registry=registry) if args.sink else None
    app = DetectorService(
        args.kind,
        build,
        reference=reference,
        fit_first=args.fit_first or 0,
        name=args.name or f"{args.kind}-detector",
        event_source=args.event_source,
        sink=sink,
        registry=registry,
    )
    started = asyncio.run(serve_app(app, sock, args.ready_file))
    return 0 if started else 1
