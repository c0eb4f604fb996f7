"""``zeroserve controller``: run the operator against a Kubernetes API (a cluster or the embedded one).

Exit codes: 0 after SIGTERM/SIGINT, 1 when leadership was lost (the pod restarts and campaigns again,
as client-go controllers do), 2 for bad arguments or an unreachable kubeconfig.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from zeroserve.process.listen import PortInUse, default_http_port
from zeroserve.process.logs import configure_logging

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(prog="zeroserve controller", description=__doc__)
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: its current one)")
    parser.add_argument("--namespace", help="watch only this namespace (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="concurrent reconciles (default: 2)")
    parser.add_argument("--leader-elect", action="store_true", help="hold a Lease before reconciling")
    parser.add_argument("--lease-namespace", default="zeroserve-system", help="namespace of the Lease")
    parser.add_argument("--lease-name", default="zeroserve-controller-leader", help="name of the Lease")
    parser.add_argument("--identity", help="Lease holder identity (default: $POD_NAME or host_random)")
    parser.add_argument(
        "--config-namespace",
        help="namespace of the inferenceservice-config ConfigMap (default: none, built-in configuration)",
    )
    parser.add_argument("--domain", help="domain of external URLs (default: example.com)")
    parser.add_argument("--resync-seconds", type=float, default=600.0, help="relist period (default: 600)")
    parser.add_argument(
        "--http-port",
        "--http_port",
        type=int,
        default=None,
        help="port of /healthz, /readyz and /metrics (default: $PORT, else 8080; 0 = free; -1 = off)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING ... (default: INFO)")
    return parser


def main(argv: list[str]) -> int:
    """Run the controller until SIGTERM/SIGINT.

    Args:
        argv: the arguments after ``zeroserve controller``.

    Returns:
        The exit code.
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)

    from prometheus_client import CollectorRegistry

    from zeroserve.controller.config import ControllerConfig
    from zeroserve.controller.controller import Controller, ControllerOptions, default_identity
    from zeroserve.controller.kube import KubeStore
    from zeroserve.controller.leader import LeaseConfig
    from zeroserve.controller.metrics import ControllerMetrics, HealthServer

    try:
        store = KubeStore.from_kubeconfig(args.kubeconfig, args.context)
    except Exception as exc:  # the client library raises several kinds for a bad kubeconfig
        logging.getLogger(__name__).error("cannot load the Kubernetes configuration: %s", exc)
        return 2
    config = ControllerConfig(domain=args.domain) if args.domain else ControllerConfig()
    options = ControllerOptions(
        namespace=args.namespace,
        workers=args.workers,
        leader_elect=args.leader_elect,
        identity=args.identity or default_identity(),
        lease=LeaseConfig(namespace=args.lease_namespace, name=args.lease_name),
        config_namespace=args.config_namespace,
        resync_seconds=args.resync_seconds,
    )
    registry = CollectorRegistry()
    controller = Controller(store, config, options, metrics=ControllerMetrics(registry))
    port = args.http_port if args.http_port is not None else default_http_port()
    health = None
    if port >= 0:
        # ready while running, and while waiting as a leader-election candidate (a standby is healthy)
        try:
            health = HealthServer(
                "0.0.0.0", port, registry, lambda: options.leader_elect or controller.started.is_set()
            )
        except OSError as exc:
            reason = PortInUse("0.0.0.0", port, "--http-port", exc.strerror or str(exc))
            print(f"zeroserve controller: {reason}", file=sys.stderr)
            return 2
        health.start()
        logging.getLogger(__name__).info("health and metrics on port %d", health.port)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        controller.run(stop)
    finally:
        if health is not None:
            health.stop()
        store.close()
    return 1 if controller.leadership_lost else 0
