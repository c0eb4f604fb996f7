"""``zeroserve logger-agent``: the payload-logging sidecar as a process.

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

__all__ = ["agent"]

log = logging.getLogger(__name__)


def agent(argv: list[str]) -> int:
    """``zeroserve logger-agent --upstream URL [--http-port P] --log-url URL ...``.

    Args:
        argv: the command's arguments.

    Returns:
        The exit code: 0 after a clean stop, 2 when the port cannot be bound.
    """
    from zeroserve.logger.config import add_logger_arguments, config_from_args

    parser = argparse.ArgumentParser(
        prog="zeroserve logger-agent", description="payload-logging sidecar proxy"
    )
    parser.add_argument("--upstream", required=True, help="the model container's base URL")
    parser.add_argument("--http-port", "--http_port", "--port", dest="http_port", type=int, default=None)
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default all)")
    parser.add_argument("--ready-file", dest="ready_file", type=Path, default=None)
    add_logger_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if config is None:
        parser.error("--log-url is required")
    port = args.http_port if args.http_port is not None else default_http_port()
    try:
        sock = bind_socket(args.host, port, flag="--http-port")
    except PortInUse as exc:
        print(f"zeroserve logger-agent: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    from zeroserve.logger.agent import create_agent_app

    started = asyncio.run(serve_app(create_agent_app(args.upstream, config), sock, args.ready_file))
    return 0 if started else 1
