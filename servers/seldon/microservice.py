"""``seldon-core-microservice`` and ``zeroserve serve seldon``: serve a user's Seldon class.

``seldon-core-microservice Model --service-type MODEL --persistence 0 --parameters '[...]'`` is
Seldon's own command line (so a Seldon image's ``CMD`` runs as is), with its environment:
``PREDICTIVE_UNIT_PARAMETERS``, ``PREDICTIVE_UNIT_HTTP_SERVICE_PORT`` (9000),
``PREDICTIVE_UNIT_GRPC_SERVICE_PORT`` (5000), ``PREDICTIVE_UNIT_METRICS_SERVICE_PORT`` (metrics
on a port of their own, any path, only when it or ``--metrics-port`` is set: several components
share one host locally; they are always on the HTTP port's ``/metrics`` too),
``PREDICTIVE_UNIT_ID``; ``PORT`` (Knative's) wins for HTTP over Seldon's variable. ``zeroserve serve
seldon MODULE[:CLASS]`` takes the same flags (dashes or KServe's underscores) with our port defaults
(``PORT`` else 8080, ``ZEROSERVE_GRPC_PORT`` else 8081). Flags of Seldon's that change nothing here
(``--threads``, ``--max-requests``, ``--keepalive``, ``--single-threaded``, ``--debug``,
``--tracing``) are accepted. The component answers Seldon's REST API and the ``prediction.proto``
services, and the KServe V1/V2 APIs as every model server does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main", "serve_main"]

_log = logging.getLogger(__name__)


def _add(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    spellings = [f"--{name}"]
    if "-" in name:
        spellings.append(f"--{name.replace('-', '_')}")
    parser.add_argument(*spellings, dest=name.replace("-", "_"), **kwargs)


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The parser shared by both commands (``prog`` only changes the help)."""
    from zeroserve.servers.seldon.component import SERVICE_TYPES

    parser = argparse.ArgumentParser(
        prog=prog, description="Serve a Seldon Python component.", allow_abbrev=False
    )
    parser.add_argument(
        "interface_name", help="Module (class of the same name), module.Class or module:Class"
    )
    _add(
        parser, "service-type", type=str.upper, choices=SERVICE_TYPES, default="MODEL", help="the node's role"
    )
    _add(parser, "persistence", type=int, choices=(0, 1), default=0, help="1: save and restore the object")
    _add(
        parser,
        "persistence-path",
        type=Path,
        help="folder of the saved object (default $ZEROSERVE_HOME/seldon/NAME)",
    )
    _add(parser, "persistence-period", type=float, default=60.0, help="seconds between saves (default 60)")
    _add(
        parser,
        "parameters",
        help='JSON list of {"name","value","type"} (default $PREDICTIVE_UNIT_PARAMETERS)',
    )
    _add(parser, "model-dir", help="folder holding the module (default: the working directory)")
    _add(
        parser,
        "model-name",
        help="the model's name on the KServe APIs (default $PREDICTIVE_UNIT_ID or the class)",
    )
    _add(parser, "http-port", type=int, help="HTTP port (0 = a free one)")
    _add(parser, "grpc-port", type=int, help="gRPC port (0 = a free one, -1 = off)")
    _add(
        parser,
        "metrics-port",
        type=int,
        help="also serve metrics here (default $PREDICTIVE_UNIT_METRICS_SERVICE_PORT)",
    )
    _add(parser, "host", default="0.0.0.0", help="address to bind")
    _add(
        parser,
        "workers",
        type=int,
        default=None,
        help="HTTP worker processes (default $GUNICORN_WORKERS or 1)",
    )
    _add(parser, "grpc-workers", type=int, default=None, help="0 disables gRPC")
    _add(parser, "ready-file", type=Path, help="write {pid, http_port, grpc_port} here once serving")
    _add(parser, "log-level", default=None, help="log level (default INFO)")
    _add(parser, "access-log", action="store_true", help="log every request")
    for name in ("threads", "max-requests", "keepalive", "grpc-threads"):
        _add(parser, name, type=int, help=argparse.SUPPRESS)
    for name in ("single-threaded", "debug", "tracing"):
        _add(parser, name, nargs="?", const="1", help=argparse.SUPPRESS)
    return parser


def _port(flag: int | None, *env: str, default: int) -> int:
    if flag is not None:
        return flag
    for name in env:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"${name} must be a port number, got {value!r}") from None
    return default


def main(argv: list[str] | None = None) -> int:
    """``seldon-core-microservice``: Seldon's spelling and port defaults (9000 HTTP, 5000 gRPC)."""
    args = sys.argv[1:] if argv is None else argv
    return _run(args, "seldon-core-microservice", seldon_defaults=True)


def serve_main(argv: list[str]) -> int:
    """``zeroserve serve seldon ...``: our port defaults (``PORT`` / 8080, ``ZEROSERVE_GRPC_PORT`` / 8081)."""
    return _run(argv, "zeroserve serve seldon", seldon_defaults=False)


def _run(argv: list[str], prog: str, seldon_defaults: bool) -> int:
    args, unknown = build_parser(prog).parse_known_args(argv)
    try:
        server, model = _build(args, seldon_defaults)
    except ValueError as exc:  # ComponentLoadError, bad ports, bad settings
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(
            f"{prog}: the component could not be created: {str(exc).strip() or type(exc).__name__}",
            file=sys.stderr,
        )
        return 1
    if unknown:
        _log.warning("ignoring unknown arguments: %s", " ".join(unknown))
    from zeroserve.process.listen import PortInUse
    from zeroserve.servers.errors import ServingError

    try:
        server.start([model])
    except PortInUse as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except ServingError as exc:
        _log.error("the component failed to start: %s", exc)
        return 1
    return 0


def _build(args: argparse.Namespace, seldon_defaults: bool) -> tuple[Any, Any]:
    from prometheus_client import CollectorRegistry
    from pydantic import ValidationError

    from zeroserve.process.logs import configure_logging
    from zeroserve.servers.model_server import ModelServer
    from zeroserve.servers.seldon.component import SeldonComponent
    from zeroserve.servers.seldon.custom_metrics import CustomMetrics
    from zeroserve.servers.seldon.model import MetricsPort, SeldonModel
    from zeroserve.servers.seldon.persistence import Persistence, default_folder
    from zeroserve.servers.seldon.user import import_user_class, parse_parameters, split_interface
    from zeroserve.servers.settings import ServerSettings

    if seldon_defaults:
        http = _port(args.http_port, "PORT", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", default=9000)
        grpc = _port(args.grpc_port, "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", default=5000)
    else:
        http = _port(args.http_port, "PORT", default=8080)
        grpc = _port(args.grpc_port, "ZEROSERVE_GRPC_PORT", default=8081)
    if args.grpc_workers == 0:
        grpc = -1
    workers = args.workers if args.workers is not None else _port(None, "GUNICORN_WORKERS", default=1)
    fields: dict[str, Any] = {
        "http_port": http,
        "grpc_port": grpc,
        "host": args.host,
        "workers": max(workers, 1),
    }
    if args.ready_file is not None:
        fields["ready_file"] = args.ready_file
    if args.log_level:
        fields["log_level"] = args.log_level.upper()
    if args.access_log:
        fields["access_log"] = True
    try:
        settings = ServerSettings(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"bad server option: {problems}") from None

    registry = CollectorRegistry()
    server = ModelServer(settings, registry=registry)
    if settings.configure_logging:
        configure_logging(settings.log_level, server.request_id)

    unit_id = os.environ.get("PREDICTIVE_UNIT_ID", "")
    _, class_name = split_interface(args.interface_name)
    name = args.model_name or unit_id or class_name
    cls = import_user_class(args.interface_name, args.model_dir)
    parameters = parse_parameters(
        args.parameters if args.parameters is not None else os.environ.get("PREDICTIVE_UNIT_PARAMETERS")
    )
    persistence = None
    user = None
    if args.persistence:
        folder = args.persistence_path or default_folder(unit_id or name)
        persistence = Persistence(folder, args.persistence_period)
        user = persistence.restore()
    if user is None:
        user = cls(**parameters)
    component = SeldonComponent(user, args.service_type, unit_id, CustomMetrics(registry), name=name)
    _log.info(
        "serving Seldon component %s (%s) as %s",
        args.interface_name,
        args.service_type,
        name,
        extra={"parameters": sorted(parameters), "persistence": bool(persistence)},
    )
    metrics_port = None
    wanted = _port(args.metrics_port, "PREDICTIVE_UNIT_METRICS_SERVICE_PORT", default=-1)
    if wanted >= 0:
        metrics_port = MetricsPort(args.host, wanted, registry)
    return server, SeldonModel(name, component, persistence, metrics_port)
