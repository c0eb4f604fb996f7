"""What a multi-model predictor's model server says about one TrainedModel (``ModelLoaded``).

The controller asks the model server itself, at the predictor's cluster address (its Knative
Service's ``status.address.url``), with the Open Inference Protocol's model readiness:
``GET /v2/models/<model>/ready``. Our model server answers 200 ``{"ready": true}`` for a model it
serves and, for one it knows but does not serve, 404 (503 while it loads)
``{"error": <why>, "reason_code": <CamelCase reason>}`` (``zeroserve.servers.repository``:
``UnloadedLeastRecentlyUsed``, ``ExceedsMemoryBudget``, ``LoadFailed``, ...).

On a cluster the address is reached directly (Knative's cluster-local gateway serves it). The
embedded platform's controller is given ``via``, its gateway's URL: the request goes there with the
address's Host, which the gateway routes like Knative's cluster-local gateway (the way its
instances reach cluster addresses). Nothing else travels: the model server needs no API credentials.

The reader also remembers when the controller last changed a predictor's model config, so that the
TrainedModels of that predictor are read again soon while the server applies it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from zeroserve.controller.errors import NotFound
from zeroserve.controller.kinds import KNATIVE_SERVICE, REVISION
from zeroserve.controller.names import component_service_name
from zeroserve.controller.store import Store

__all__ = [
    "LOADING",
    "PENDING",
    "PREDICTOR_SCALED_TO_ZERO",
    "PREDICTOR_UNREACHABLE",
    "ModelStateReader",
    "ServerModelState",
]

LOADING = "Loading"
"""The model server is fetching or loading the model now."""
PENDING = "ModelConfigPending"
"""The model server does not know the model yet (it has not read the new model config)."""
PREDICTOR_UNREACHABLE = "PredictorUnreachable"
"""The predictor did not answer, or answered what a model server of ours does not."""
PREDICTOR_SCALED_TO_ZERO = "PredictorScaledToZero"
"""The predictor runs no instance; one that starts loads the model config."""

SETTLE = timedelta(seconds=30)
"""How long after a model config change the TrainedModels of that predictor are read every poll."""


@dataclass(frozen=True)
class ServerModelState:
    """The ``ModelLoaded`` condition one read gives."""

    status: str
    """``True``, ``False`` or ``Unknown``."""
    reason: str | None = None
    message: str | None = None
    settled: bool = True
    """False while the server is still on its way (loading, not read the config yet, unreachable)."""


def _error_of(response: httpx.Response) -> tuple[str, str | None]:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:300].strip(), None
    if not isinstance(body, dict):
        return str(body)[:300], None
    code = body.get("reason_code")
    return str(body.get("error") or body)[:1000], str(code) if code else None


class ModelStateReader:
    """Reads whether a predictor's model server serves a model, and why not.

    Args:
        via: returns the URL of a gateway that routes cluster addresses by Host (the embedded
            platform's gateway), or ``None`` to connect to the address itself (in a cluster).
        timeout: seconds for one read (the answer is immediate: it never waits for a load).
        transport: the HTTP transport (tests, or a transport with the cluster's CA).
    """

    def __init__(
        self,
        via: Callable[[], str | None] | None = None,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._via = via
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None  # opened at the first read
        self._changed: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- model config changes ----------------------------------------------------------------------
    def config_changed(self, namespace: str, isvc: str, now: datetime) -> None:
        """Note that the model config of ``isvc`` changed at ``now``."""
        with self._lock:
            self._changed[(namespace, isvc)] = now

    def settling(self, namespace: str, isvc: str, now: datetime) -> bool:
        """Whether the model config of ``isvc`` changed within :data:`SETTLE` of ``now``."""
        with self._lock:
            changed = self._changed.get((namespace, isvc))
            if changed is not None and now - changed > SETTLE:
                del self._changed[(namespace, isvc)]
                return False
            return changed is not None

    # -- reading -----------------------------------------------------------------------------------
    def ask_predictor(self, store: Store, namespace: str, isvc: str, model: str) -> ServerModelState:
        """Ask the predictor of ``isvc`` about ``model``; not when it runs no instance (that would start one).

        Args:
            store: the API (the predictor's Knative Service and its latest ready Revision).
            namespace: the InferenceService's namespace.
            isvc: the InferenceService.
            model: the TrainedModel.

        Returns:
            What :meth:`read` gives; ``True`` (reason ``PredictorScaledToZero``) when the Revision
            reports ``actualReplicas: 0``.
        """
        service = component_service_name(isvc, "predictor")
        try:
            status = store.get(KNATIVE_SERVICE, namespace, service).get("status") or {}
        except NotFound:
            status = {}
        address = (status.get("address") or {}).get("url")
        if not address:
            return ServerModelState(
                "Unknown", PREDICTOR_UNREACHABLE, f"Knative Service {service!r} has no address yet", False
            )
        revision = status.get("latestReadyRevisionName")
        if revision:
            try:
                found = store.get(REVISION, namespace, str(revision))
            except NotFound:
                found = {}
            if (found.get("status") or {}).get("actualReplicas") == 0:
                return ServerModelState(
                    "True",
                    PREDICTOR_SCALED_TO_ZERO,
                    f"{service} runs no instance; the one a request starts loads the model config",
                )
        return self.read(str(address), model)

    def read(self, address_url: str, model: str) -> ServerModelState:
        """Ask the model server at ``address_url`` about ``model``.

        Args:
            address_url: the predictor's cluster address (``http://<isvc>-predictor.<ns>.svc.cluster.local``).
            model: the TrainedModel's name (the model's name on the server).

        Returns:
            ``True`` when served; ``False`` with the server's reason and message when it does not
            serve it; ``Unknown`` (not settled) while it loads, before it read the model config, or
            when the predictor cannot be asked.
        """
        path = f"/v2/models/{model}/ready"
        url = address_url.rstrip("/") + path
        headers = {}
        via = self._via() if self._via is not None else None
        if via:
            headers["Host"] = urlsplit(address_url).netloc
            target = via.rstrip("/") + path
        else:
            target = url
        with self._lock:
            if self._client is None:
                # no idle connection is kept: reads are seconds or minutes apart, and an open one
                # would hold up a gateway (or an instance) that stops meanwhile
                self._client = httpx.Client(
                    timeout=self._timeout,
                    transport=self._transport,
                    trust_env=False,
                    limits=httpx.Limits(max_keepalive_connections=0),
                )
            client = self._client
        try:
            response = client.get(target, headers=headers)
        except httpx.HTTPError as exc:
            return ServerModelState(
                "Unknown", PREDICTOR_UNREACHABLE, f"GET {url} failed: {type(exc).__name__}: {exc}", False
            )
        if response.status_code == 200:
            try:
                ready = bool(response.json().get("ready"))
            except (ValueError, AttributeError):
                ready = False
            if ready:
                return ServerModelState("True")
            return ServerModelState(
                "Unknown", LOADING, f"the model server has {model} but it is not ready", False
            )
        error, code = _error_of(response)
        if code == LOADING:
            return ServerModelState("Unknown", LOADING, error, False)
        if code and response.status_code == 404:
            return ServerModelState("False", code, error)
        if response.status_code == 404 and "does not exist" in error:
            return ServerModelState(
                "Unknown",
                PENDING,
                f"the model server has not read the model config that lists {model} yet ({error}); "
                "if this stays, its image does not follow a model config (ours watches "
                "--model_config_file=/mnt/configs/models.json)",
                False,
            )
        return ServerModelState(
            "Unknown", PREDICTOR_UNREACHABLE, f"GET {url} answered {response.status_code}: {error}", False
        )
