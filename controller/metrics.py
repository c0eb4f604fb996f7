"""The controller's Prometheus metrics and its health/metrics HTTP endpoint.

Metrics live on a registry the caller passes in (no global registry). The endpoint is a small
threaded HTTP server: ``/healthz`` (alive), ``/readyz`` (200 once the loop runs, or while waiting as a
leader-election candidate), ``/metrics`` (Prometheus text).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["ControllerMetrics", "HealthServer"]


class ControllerMetrics:
    """What the loop reports.

    Args:
        registry: where the metrics are registered.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.reconciles = Counter(
            "zeroserve_controller_reconcile",
            "Reconciles by kind and result (success, error, requeue).",
            ["kind", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "zeroserve_controller_reconcile_duration_seconds",
            "Time one reconcile took.",
            ["kind"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "zeroserve_controller_queue_depth", "Keys waiting in the work queue.", registry=registry
        )
        self.leader = Gauge(
            "zeroserve_controller_leader", "1 while this replica runs the loop, else 0.", registry=registry
        )


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on a port, served from a background thread.

    Args:
        host: the interface to bind.
        port: the port; 0 picks a free one (read :attr:`port` after :meth:`start`).
        registry: the metrics to expose.
        ready: whether ``/readyz`` answers 200.
    """

    def __init__(self, host: str, port: int, registry: CollectorRegistry, ready: Callable[[], bool]) -> None:
        self._registry = registry
        self._ready = ready
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._answer(200, generate_latest(outer._registry), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    self._answer(200, b'{"status":"alive"}', "application/json")
                elif self.path == "/readyz":
                    ok = outer._ready()
                    self._answer(
                        200 if ok else 503,
                        b'{"ready":%s}' % (b"true" if ok else b"false"),
                        "application/json",
                    )
                else:
                    self._answer(404, b'{"error":"not found"}', "application/json")

            def _answer(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="controller-health", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
