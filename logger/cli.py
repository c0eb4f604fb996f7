"""Command lines of the monitoring services: ``zeroserve logger-agent`` and ``zeroserve detector``.

Both follow the process conventions of ``docs/contracts.md``: ``--http-port`` (or ``PORT``, else
8080; 0 binds a free port), ``--ready-file`` with ``{"pid", "http_port", "grpc_port"}`` once bound,
JSON log lines on stderr, and ``(argv) -> int`` entry points with no import-time work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

__all__ = ["agent", "detector"]

log = logging.getLogger("zeroserve.logger.cli")


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _default_port() -> int:
    return int(os.environ.get("PORT", "8080"))


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http-port", "--http_port", "--port", dest="http_port", type=int, default=None)
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default all)")
    parser.add_argument("--ready-file", dest="ready_file", type=Path, default=None)


async def _serve(app: Any, host: str, port: int, ready_file: Path | None) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # uvicorn offers no started event
        if task.done():
            break
        await asyncio.sleep(0.01)
    if server.started:
        log.info("listening on %s:%d", host, bound)
        if ready_file is not None:
            tmp = ready_file.with_suffix(ready_file.suffix + ".tmp")
            tmp.write_text(json.dumps({"pid": os.getpid(), "http_port": bound, "grpc_port": -1}))
            tmp.replace(ready_file)
    await task


def agent(argv: list[str]) -> int:
    """``zeroserve logger-agent --upstream URL [--http-port P] --log-url URL ...``.

    Args:
        argv: the command's arguments.

    Returns:
        The exit code.
    """
    from zeroserve.logger.config import add_logger_arguments, config_from_args

    parser = argparse.ArgumentParser(
        prog="zeroserve logger-agent", description="payload-logging sidecar proxy"
    )
    parser.add_argument("--upstream", required=True, help="the model container's base URL")
    _add_server_arguments(parser)
    add_logger_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if config is None:
        parser.error("--log-url is required")
    _configure_logging()
    from zeroserve.logger.agent import create_agent_app

    app = create_agent_app(args.upstream, config)
    port = args.http_port if args.http_port is not None else _default_port()
    asyncio.run(_serve(app, args.host, port, args.ready_file))
    return 0


def detector(argv: list[str]) -> int:
    """``zeroserve detector drift|outlier [--reference-uri URI | --fit-first N] [--sink URL] ...``.

    Args:
        argv: the command's arguments.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(prog="zeroserve detector", description="drift or outlier detector")
    parser.add_argument("kind", choices=["drift", "outlier"])
    _add_server_arguments(parser)
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
    args = parser.parse_args(argv)
    _configure_logging()

    from prometheus_client import CollectorRegistry

    from zeroserve.logger.config import LoggerConfig
    from zeroserve.logger.detectors.reference import ReferenceDataError, load_reference
    from zeroserve.logger.detectors.server import DetectorService, build_method
    from zeroserve.logger.emitter import PayloadLogger

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
    registry = CollectorRegistry()
    sink = PayloadLogger(LoggerConfig(url=args.sink), registry=registry) if args.sink else None
    name = args.name or f"{args.kind}-detector"
    app = DetectorService(
        args.kind,
        build,
        reference=reference,
        fit_first=args.fit_first or 0,
        name=name,
        event_source=args.event_source,
        sink=sink,
        registry=registry,
    )
    port = args.http_port if args.http_port is not None else _default_port()
    asyncio.run(_serve(app, args.host, port, args.ready_file))
    return 0
