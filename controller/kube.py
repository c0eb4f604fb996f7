"""The store over the ``kubernetes`` client: the only module of the controller that imports it.

It speaks plain REST with JSON dicts (no generated model classes), so one code path serves
KServe's, Knative's and Gateway API's kinds and the core ones alike, on a cluster and against the
embedded API server. Authentication and TLS come from a kubeconfig or the in-cluster service account,
loaded by the client library.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from zeroserve.controller.errors import AlreadyExists, Conflict, Gone, NotFound, StoreError
from zeroserve.controller.kinds import Kind
from zeroserve.controller.store import Obj, ObjectList, WatchEvent

__all__ = ["KubeStore"]

log = logging.getLogger(__name__)

_Query = list[tuple[str, Any]]
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}
_AUTH = ["BearerToken"]


def _error(
    status: int | None, body: bytes | str | None, reason: str | None, creating: bool = False
) -> StoreError:
    """Map an API answer to the store's errors, with the server's ``Status.message`` when it sent one."""
    message = reason or ""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = json.loads(body or "{}").get("message") or message
    if status == 404:
        return NotFound(message, status)
    if status == 409:
        return AlreadyExists(message, status) if creating else Conflict(message, status)
    if status == 410:
        return Gone(message, status)
    return StoreError(f"{status}: {message}", status)


def _from_exception(exc: ApiException, creating: bool = False) -> StoreError:
    return _error(exc.status, exc.body, exc.reason, creating)


class _KubeWatch:
    """One watch request, streamed line by line; ``close()`` from another thread ends it."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[WatchEvent]:
        try:
            for line in iter_resp_lines(self._response):
                if self._closed.is_set():
                    return
                if not line:
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    code = obj.get("code")
                    if code == 410:
                        raise Gone(obj.get("message", "resource version too old"), 410)
                    raise StoreError(obj.get("message", "watch error"), code)
                yield WatchEvent(event.get("type", ""), obj)
        except Exception:
            if self._closed.is_set():
                return
            raise
        finally:
            self._release()

    def close(self) -> None:
        self._closed.set()
        shutdown = getattr(self._response, "shutdown", None)  # urllib3 >= 2.3: unblocks a pending read
        if shutdown is not None:
            with contextlib.suppress(Exception):
                shutdown()
        self._release()

    def _release(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection must not fail the caller
            self._response.close()
            self._response.release_conn()


class KubeStore:
    """The store interface over a ``kubernetes.client.ApiClient``.

    Args:
        api_client: a configured client (see :meth:`from_kubeconfig`).
        request_timeout: seconds for ordinary requests.
    """

    def __init__(self, api_client: kubernetes.client.ApiClient, request_timeout: float = 30.0) -> None:
        self._api = api_client
        self._timeout = request_timeout

    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, context: str | None = None
    ) -> KubeStore:
        """Connect with a kubeconfig, or with the pod's service account when none is given in a pod.

        Args:
            path: the kubeconfig file; ``None`` means ``$KUBECONFIG`` / ``~/.kube/config``, or the
                in-cluster configuration when running in a pod.
            context: the kubeconfig context; its current one when ``None``.

        Returns:
            A store talking to that API server.
        """
        configuration = kubernetes.client.Configuration()
        if path is None and os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        else:
            kubernetes.config.load_kube_config(
                config_file=None if path is None else os.fspath(path),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        return cls(kubernetes.client.ApiClient(configuration))

    def close(self) -> None:
        """Release the client's connection pool."""
        self._api.close()

    # -- the store interface -----------------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        return self._request("GET", kind.path(namespace, name))

    def list(self, kind: Kind, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        query = [("labelSelector", label_selector)] if label_selector else []
        answer = self._request("GET", kind.path(namespace), query=query)
        items = answer.get("items") or []
        for item in items:  # list items come without apiVersion/kind
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return ObjectList(items, (answer.get("metadata") or {}).get("resourceVersion", ""))

    def create(self, kind: Kind, obj: Obj) -> Obj:
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self._request("POST", kind.path(namespace), body=obj, creating=True)

    def update(self, kind: Kind, obj: Obj) -> Obj:
        meta = obj.get("metadata") or {}
        return self._request("PUT", kind.path(meta.get("namespace"), meta["name"]), body=obj)

    def update_status(self, kind: Kind, obj: Obj) -> Obj:
        meta = obj.get("metadata") or {}
        return self._request("PUT", kind.path(meta.get("namespace"), meta["name"], "status"), body=obj)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        self._request("DELETE", kind.path(namespace, name), body={"propagationPolicy": "Background"})

    def watch(
        self, kind: Kind, namespace: str | None, resource_version: str, timeout_seconds: int
    ) -> _KubeWatch:
        query: _Query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", int(timeout_seconds)),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        method, url, headers, body, _ = self._api.param_serialize(
            "GET", kind.path(namespace), query_params=query, header_params=dict(_JSON), auth_settings=_AUTH
        )
        try:
            response = self._api.call_api(
                method, url, headers, body, _request_timeout=(self._timeout, timeout_seconds + 10)
            )
        except ApiException as exc:
            raise _from_exception(exc) from exc
        if not 200 <= response.status <= 299:
            raise _error(response.status, response.read(), response.reason)
        return _KubeWatch(response.response)

    # -- internals ---------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: _Query | None = None,
        creating: bool = False,
    ) -> Obj:
        method, url, headers, payload, _ = self._api.param_serialize(
            method,
            path,
            query_params=query or None,
            header_params=dict(_JSON),
            body=body,
            auth_settings=_AUTH,
        )
        try:
            response = self._api.call_api(method, url, headers, payload, _request_timeout=self._timeout)
            data = response.read()
        except ApiException as exc:
            raise _from_exception(exc, creating) from exc
        except Exception as exc:  # urllib3 transport errors: the caller retries with backoff
            raise StoreError(f"{method} {path}: {exc}") from exc
        if not 200 <= response.status <= 299:
            raise _error(response.status, data, response.reason, creating)
        if not data:
            return {}
        result: Obj = json.loads(data)
        return result
