"""``zeroserve serve <runtime> ...``: run a model server with one of the runtimes.

Accepts our flag spellings (``--model-name``) and KServe's (``--model_name``), so a KServe
``ServingRuntime``'s args work unchanged; KServe flags we do not use are tolerated with a warning.
Ports follow docs/contracts.md: ``--http-port`` else ``PORT`` else 8080, ``--grpc-port`` else
``ZEROSERVE_GRPC_PORT`` else 8081, ``0`` binds a free port, ``--ready-file`` reports the bound ports.

Nothing is parsed at import; :func:`main` is callable in-process.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zeroserve.servers.model import Model
    from zeroserve.servers.runtimes import RuntimeRegistry
    from zeroserve.servers.settings import ServerSettings
    from zeroserve.servers.transformer.config import PredictorConfig

__all__ = [
    "ServeCommand",
    "UsageError",
    "build_parser",
    "main",
    "parse_serve_args",
    "run_serve",
    "server_flags",
]

_log = logging.getLogger(__name__)

# KServe ModelServer flags with no effect here: accepted and ignored (with a note in the log).
_IGNORED_KSERVE_FLAGS = (
    "--enable_latency_logging",
    "--enable-latency-logging",
    "--log_config_file",
    "--access_log_format",
    "--max_asyncio_workers",
    "--enable_predictor_health_check",
    "--start",  # TorchServe's
    "--ts-config",  # TorchServe's (we read <model folder>/config/config.properties)
    "--allow-grpc",  # Triton's
    "--allow-http",  # Triton's
)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on", "t", "y"):
        return True
    if value in ("0", "false", "no", "off", "f", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _flag(parser: argparse._ActionsContainer, name: str, *extra: str, **kwargs: Any) -> None:
    """Add ``--name`` with its KServe spelling ``--na_me`` (and any extra spellings)."""
    spellings = [f"--{name}"]
    underscored = f"--{name.replace('-', '_')}"
    if underscored not in spellings:
        spellings.append(underscored)
    parser.add_argument(*spellings, *extra, dest=name.replace("-", "_"), **kwargs)


def build_parser(runtime_names: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``zeroserve serve``.

    Args:
        runtime_names: shown in the help text.

    Returns:
        A parser; use ``parse_known_args`` to tolerate unknown KServe flags.
    """
    names = ", ".join(runtime_names or [])
    parser = argparse.ArgumentParser(
        prog="zeroserve serve",
        description="Serve a model over KServe V1, Open Inference V2 REST and V2 gRPC.",
        allow_abbrev=False,
    )
    parser.add_argument("runtime", help=f"the runtime: {names}" if names else "the runtime")

    model = parser.add_argument_group("model")
    _flag(model, "model-name", default="model", help="the model's name on the wire (default: model)")
    _flag(model, "model-dir", help="local model folder (or a storage URI, as KServe's --model_dir allows)")
    _flag(
        model, "storage-uri", help="storageUri to download the model from (path, file, pvc, http(s), s3, gs)"
    )
    _flag(model, "models-dir", help="model repository root for V2 repository load (<models-dir>/<name>)")
    _flag(model, "model-config-file", help="KServe model config (models.json) of TrainedModels to serve")
    _flag(model, "memory-budget", type=int, help="bytes the TrainedModels may use; past it the LRU unload")

    rt = parser.add_argument_group("runtime options")
    _flag(rt, "predict-proba", nargs="?", const="true", help="sklearn: answer with predict_proba")
    _flag(rt, "nthread", help="xgboost: threads per prediction")
    _flag(rt, "device", help="pytorch: cpu, cuda or cuda:N")
    _flag(rt, "input-dtype", help="pytorch: dtype of V1 instances (default float32)")
    _flag(rt, "num-threads", help="pytorch: intra-op CPU threads")
    _flag(rt, "adversary-type", help="art: the attack (SquareAttack)")
    _flag(rt, "nb-classes", help="art: how many classes the predictor tells apart")
    _flag(rt, "max-iter", help="art: the attack's iterations")
    _flag(rt, "nsamples", help="kernelshap: the most coalitions evaluated per row")
    _flag(
        rt,
        "model-store",
        help="TorchServe's / Triton's --model-store (torchserve: its parent folder is the model folder)",
    )
    _flag(rt, "model-class", help="custom: path/to/file.py:Class or package.module:Class")
    _flag(rt, "model-params", help="custom: JSON object of keyword arguments for the class")
    _flag(
        rt,
        "runtime-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any runtime option (repeatable)",
    )

    server = parser.add_argument_group("server")
    _flag(server, "http-port", type=int, help="HTTP port (default: PORT env, else 8080; 0 = free port)")
    _flag(server, "grpc-port", type=int, help="gRPC port (default: ZEROSERVE_GRPC_PORT, else 8081; -1 = off)")
    _flag(server, "enable-grpc", type=_bool, help="KServe's switch; false disables gRPC")
    _flag(server, "host", help="address to bind (default 0.0.0.0)")
    _flag(server, "workers", type=int, help="HTTP worker processes")
    _flag(server, "ready-file", type=Path, help="write {pid, http_port, grpc_port} here once serving")
    _flag(server, "max-request-size", type=int, help="largest request body in bytes (413 beyond)")
    _flag(server, "max-json-depth", type=int, help="deepest JSON nesting of a request body (400 beyond)")
    _flag(
        server,
        "request-read-timeout",
        type=float,
        help="seconds a request body may take to arrive (408 beyond; default 60)",
    )
    _flag(
        server,
        "enable-model-repository",
        type=_bool,
        nargs="?",
        const=True,
        help="serve the model repository API (/v2/repository load, unload, index); off by default",
    )
    _flag(server, "max-threads", type=int, help="gRPC executor threads")
    _flag(server, "grpc-max-send-message-length", type=int, help="largest gRPC message")
    _flag(server, "grpc-max-receive-message-length", type=int, help="largest gRPC message")
    _flag(server, "timeout-keep-alive", type=int, help="idle keep-alive seconds")
    _flag(server, "enable-docs-url", type=_bool, help="accepted for KServe compatibility")
    _flag(server, "configure-logging", type=_bool, help="install the JSON log handler (default true)")
    _flag(server, "log-level", help="log level (default INFO)")
    _flag(server, "access-log", type=_bool, nargs="?", const=True, help="log every request")
    _flag(
        server,
        "event-loop",
        choices=["auto", "asyncio", "uvloop"],
        help="event loop (KServe's flag; auto = asyncio, fair to every connection under saturation)",
    )

    batch = parser.add_argument_group("adaptive batching")
    _flag(
        batch,
        "enable-batching",
        "--enable-batcher",
        type=_bool,
        nargs="?",
        const=True,
        help="join concurrent requests' rows into one predict (ZEROSERVE_BATCHER_ENABLED)",
    )
    _flag(batch, "max-batch-size", "--max-batchsize", type=int, help="rows per batch at most (default 32)")
    _flag(
        batch, "max-latency-ms", "--max-latency", type=float, help="ms a request waits for its batch (5000)"
    )
    _flag(batch, "batcher-timeout", type=float, help="seconds a batched request waits for its answer")

    tr = parser.add_argument_group("transformer")
    _flag(tr, "predictor-host", help="host[:port] of the predictor this transformer forwards to")
    _flag(tr, "predictor-protocol", "--protocol", choices=["v1", "v2", "grpc-v2"], help="predictor protocol")
    _flag(tr, "predictor-use-ssl", type=_bool, nargs="?", const=True, help="reach the predictor over TLS")
    _flag(tr, "predictor-request-timeout-seconds", type=float, help="timeout of one predictor request")
    _flag(tr, "predictor-request-retries", type=int, help="retries of failed predictor connections")

    logger = parser.add_argument_group("payload logging")
    _flag(logger, "log-url", help="CloudEvents sink of request/response payloads")
    _flag(logger, "log-mode", choices=["all", "request", "response"], help="what to log")
    _flag(logger, "log-metadata-headers", help="comma-separated request headers to attach")
    _flag(logger, "inference-service", help="InferenceService name (CloudEvent attribute)")
    _flag(logger, "namespace", help="namespace (CloudEvent attribute)")
    _flag(logger, "component", help="predictor, transformer or explainer")
    _flag(logger, "endpoint", help="endpoint label")
    return parser


def _has_model_files(model_dir: str | Path | None) -> bool:
    """Whether ``model_dir`` is a storage URI or a folder holding any file."""
    if model_dir is None:
        return False
    text = str(model_dir)
    if "://" in text and not text.startswith("file://"):
        return True
    folder = Path(text.removeprefix("file://"))
    return folder.is_file() or (folder.is_dir() and any(p.is_file() for p in folder.rglob("*")))


def _server_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    direct = (
        "http_port",
        "grpc_port",
        "host",
        "workers",
        "ready_file",
        "max_request_size",
        "max_json_depth",
        "request_read_timeout",
        "enable_model_repository",
        "timeout_keep_alive",
        "enable_docs_url",
        "configure_logging",
        "log_level",
        "access_log",
        "log_url",
        "log_mode",
        "inference_service",
        "namespace",
        "component",
        "endpoint",
    )
    for name in direct:
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    for flag, setting in (
        ("enable_batching", "batcher_enabled"),
        ("max_batch_size", "batcher_max_batch_size"),
        ("max_latency_ms", "batcher_max_latency_ms"),
        ("batcher_timeout", "batcher_timeout_seconds"),
    ):
        if getattr(args, flag) is not None:
            fields[setting] = getattr(args, flag)
    if args.enable_grpc is False:
        fields["grpc_port"] = -1
    if args.event_loop is not None:
        fields["event_loop"] = "asyncio" if args.event_loop == "auto" else args.event_loop
    if args.max_threads is not None:
        fields["grpc_max_threads"] = args.max_threads
    lengths = [v for v in (args.grpc_max_send_message_length, args.grpc_max_receive_message_length) if v]
    if lengths:
        fields["grpc_max_message_length"] = max(lengths)
    if args.log_metadata_headers is not None:
        fields["log_metadata_headers"] = [
            h.strip() for h in args.log_metadata_headers.split(",") if h.strip()
        ]
    if args.models_dir is not None:
        fields["models_dir"] = Path(args.models_dir)
    if args.model_config_file is not None:
        fields["model_config_file"] = Path(args.model_config_file)
    if args.memory_budget is not None:
        fields["memory_budget"] = args.memory_budget
    return fields


def server_flags(argv: list[str]) -> dict[str, Any]:
    """The server settings given as flags in ``argv`` (KServe's or our spelling); other arguments pass.

    What :meth:`ModelServer.start <zeroserve.servers.model_server.ModelServer.start>` reads from the
    command line of a user's script, as KServe's ``ModelServer`` does (``--http_port 9000``).

    Args:
        argv: the command line after the program name.

    Returns:
        ``ServerSettings`` field values for the flags given (none for flags not given).
    """
    args, _ = build_parser().parse_known_args(["-", *argv])
    return _server_fields(args)


def _runtime_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name in (
        "predict_proba",
        "nthread",
        "device",
        "input_dtype",
        "num_threads",
        "model_class",
        "model_params",
        "adversary_type",
        "nb_classes",
        "max_iter",
        "nsamples",
    ):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    for item in args.runtime_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--runtime-option {item!r} is not KEY=VALUE")
        options[key.strip().replace("-", "_")] = value
    return options


def _model_store_dir(runtime: str, model_store: str | None) -> str | None:
    """The model folder a TorchServe / Triton image's ``--model-store`` names (KServe's runtime args)."""
    if not model_store:
        return None
    return str(Path(model_store).parent) if runtime == "torchserve" else model_store


def _predictor_config(args: argparse.Namespace) -> Any:
    if not args.predictor_host:
        return None
    from zeroserve.servers.transformer.config import PredictorConfig

    fields: dict[str, Any] = {"predictor_host": args.predictor_host}
    for name in (
        "predictor_protocol",
        "predictor_use_ssl",
        "predictor_request_timeout_seconds",
        "predictor_request_retries",
    ):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    return PredictorConfig(**fields)


def _split_unknown(unknown: list[str]) -> tuple[list[str], list[str]]:
    """Separate KServe flags we knowingly ignore from flags nobody knows."""
    ignored: list[str] = []
    strange: list[str] = []
    for item in unknown:
        if not item.startswith("-"):
            continue  # the value of an unknown flag
        (ignored if item.split("=", 1)[0] in _IGNORED_KSERVE_FLAGS else strange).append(item.split("=", 1)[0])
    return ignored, strange


class UsageError(ValueError):
    """The command line is wrong; the message says how (exit code 2)."""


@dataclass
class ServeCommand:
    """A parsed ``zeroserve serve`` command line: what to serve and how."""

    runtime: str
    """The runtime's registry name (aliases resolved)."""
    model_name: str
    """The model's name on the wire."""
    model_dir: str | None
    """Local folder or storage URI of the model (``--storage-uri`` or ``--model-dir``)."""
    options: dict[str, Any]
    """Runtime options given on the command line (the rest come from the environment)."""
    settings: ServerSettings
    """The server's settings: flags over ``ZEROSERVE_*`` / ``PORT`` environment over defaults."""
    predictor: PredictorConfig | None
    """Where a transformer forwards to, when ``--predictor-host`` is given."""
    ignored_flags: list[str] = field(default_factory=list)
    """KServe flags accepted without effect."""
    unknown_flags: list[str] = field(default_factory=list)
    """Flags nobody knows; tolerated with a warning."""


def parse_serve_args(argv: list[str], registry: RuntimeRegistry | None = None) -> ServeCommand:
    """Parse the arguments of ``zeroserve serve``.

    Args:
        argv: the arguments after ``serve``.
        registry: the runtimes; the built-in ones when omitted.

    Returns:
        The parsed command.

    Raises:
        UsageError: unknown runtime, both ``--model-dir`` and ``--storage-uri``, a malformed
            ``--runtime-option`` or a bad server option value.
        SystemExit: from argparse, for ``--help`` or a malformed known flag.
    """
    from pydantic import ValidationError

    from zeroserve.servers.runtimes import RuntimeRegistry, UnknownRuntimeError
    from zeroserve.servers.settings import ServerSettings

    registry = registry if registry is not None else RuntimeRegistry.builtin()
    args, unknown = build_parser(registry.names()).parse_known_args(argv)
    try:
        runtime = registry.get(args.runtime).name
    except UnknownRuntimeError as exc:
        raise UsageError(str(exc)) from None
    if args.model_dir and args.storage_uri and args.model_dir != args.storage_uri:
        raise UsageError("give either --model-dir or --storage-uri, not both")
    options = _runtime_options(args)
    try:
        settings = ServerSettings(**_server_fields(args))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"bad server option: {problems}") from None
    ignored, strange = _split_unknown(unknown)
    return ServeCommand(
        runtime=runtime,
        model_name=args.model_name,
        model_dir=args.storage_uri or args.model_dir or _model_store_dir(runtime, args.model_store),
        options=options,
        settings=settings,
        predictor=_predictor_config(args),
        ignored_flags=ignored,
        unknown_flags=strange,
    )


def main(argv: list[str]) -> int:
    """Run ``zeroserve serve``.

    Args:
        argv: the arguments after ``serve``, e.g.
            ``["sklearn", "--model_name=iris", "--model_dir=/mnt/models"]``.

    Returns:
        0 after a clean shutdown, 1 when the model or the server fails to start (a busy port: one
        line naming it and the flag that changes it), 2 on bad arguments.
    """
    if argv and argv[0] == "seldon":  # a Seldon component: MODULE[:CLASS] and Seldon's own flags
        from zeroserve.servers.seldon.microservice import serve_main

        return serve_main(argv[1:])
    try:
        command = parse_serve_args(argv)
    except UsageError as exc:
        print(f"zeroserve serve: {exc}", file=sys.stderr)
        return 2
    return run_serve(command)


def run_serve(command: ServeCommand, registry: RuntimeRegistry | None = None) -> int:
    """Build the model and serve it until SIGTERM / SIGINT.

    Args:
        command: the parsed command line.
        registry: the runtimes; the built-in ones when omitted.

    Returns:
        0 after a clean shutdown, 1 when the model or the server fails to start.
    """
    from zeroserve.process.listen import PortInUse
    from zeroserve.process.logs import configure_logging
    from zeroserve.servers.errors import ServingError
    from zeroserve.servers.model_server import ModelServer
    from zeroserve.servers.runtimes import RuntimeRegistry
    from zeroserve.servers.storage import ModelStorage, StorageError

    registry = registry if registry is not None else RuntimeRegistry.builtin()
    storage = ModelStorage()
    settings = command.settings

    def factory(name: str, folder: Path) -> Model:
        return registry.create(command.runtime, name, folder, command.options, storage)

    server = ModelServer(settings, model_factory=factory if settings.models_dir else None)
    if settings.configure_logging:
        configure_logging(settings.log_level, server.request_id)
    if command.ignored_flags:
        _log.info("ignoring KServe flags that have no effect here: %s", ", ".join(command.ignored_flags))
    if command.unknown_flags:
        _log.warning(
            "ignoring unknown flags: %s",
            ", ".join(command.unknown_flags),
            extra={"flags": command.unknown_flags},
        )
    if settings.model_config_file is not None and not _has_model_files(command.model_dir):
        # a multi-model predictor without a model of its own (KServe's sklearnserver then serves only
        # its model repository): start empty and serve the TrainedModels of the model config
        _log.info(
            "no model in %s: serving the TrainedModels of %s", command.model_dir, settings.model_config_file
        )
        try:
            server.start([])
        except PortInUse as exc:
            print(f"zeroserve serve: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        model = registry.create(
            command.runtime, command.model_name, command.model_dir, command.options, storage
        )
        if command.predictor is not None and model.predictor_config is None:
            model.predictor_config = command.predictor
        _log.info("starting %s model %s from %s", command.runtime, command.model_name, command.model_dir)
        # a runtime whose folder holds several models (torchserve, triton) lists them itself
        expand = getattr(model, "served_models", None)
        server.start(expand() if callable(expand) else [model])
    except PortInUse as exc:
        print(f"zeroserve serve: {exc}", file=sys.stderr)
        return 1
    except (ServingError, StorageError) as exc:
        _log.error("model server failed to start: %s", exc)
        return 1
    return 0
