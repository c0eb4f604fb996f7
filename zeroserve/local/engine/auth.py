"""Data-plane authentication at the gateway (KServe's ``serving.kserve.io/enable-auth``).

A route whose Knative Service or HTTPRoute carries ``serving.kserve.io/enable-auth: "true"`` is
served only to callers presenting ``Authorization: Bearer <token>`` that the API server vouches for.
The gateway asks with a ``TokenReview`` (``authentication.k8s.io/v1``), as Kubernetes' own
authenticating proxies do, and remembers answers for a short while so a busy route costs one review
per token per ``ttl_s``, not one per request:

- no bearer token, or one the API server does not authenticate -> 401;
- a ServiceAccount token of another namespace than the route's -> 403;
- a ServiceAccount of the route's namespace -> served.

``kubectl create token default -n <namespace>`` gives a token that works.
"""

from __future__ import annotations

import base64
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["ENABLE_AUTH", "AuthDecision", "TokenReviewer", "auth_enabled", "reviewer_from_kubeconfig"]

log = logging.getLogger(__name__)

ENABLE_AUTH = "serving.kserve.io/enable-auth"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def auth_enabled(annotations: dict[str, Any] | None) -> bool:
    """Whether an object's annotations turn data-plane authentication on."""
    return str((annotations or {}).get(ENABLE_AUTH, "")).strip().lower() == "true"


@dataclass(frozen=True)
class AuthDecision:
    """The gateway's answer for one request: ``status`` 0 to serve, else 401 / 403 / 503 and why."""

    status: int
    message: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 0


ALLOWED = AuthDecision(0)


@dataclass(frozen=True)
class _Review:
    authenticated: bool
    username: str
    expires: float


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TokenReviewer:
    """Reviews bearer tokens with the API server and decides per namespace.

    Args:
        server: the API server's base URL.
        token: the platform's own credential, allowed to create TokenReviews.
        verify: TLS verification for ``server`` (an ``ssl.SSLContext`` with the platform's CA).
        ttl_s: how long an answer is reused.
        max_entries: how many tokens' answers are remembered (least recently used go first).
        clock: monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        server: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        ttl_s: float = 30.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._verify = verify
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, _Review] = OrderedDict()
        self._http: httpx.AsyncClient | None = None

    async def decide(self, authorization: str | None, namespace: str) -> AuthDecision:
        """Whether a request with this ``Authorization`` header may reach a route of ``namespace``.

        Args:
            authorization: the request's ``Authorization`` header, if any.
            namespace: the namespace of the route asked for.

        Returns:
            The decision.
        """
        token = bearer_token(authorization)
        if token is None:
            return AuthDecision(401, "this service requires 'Authorization: Bearer <token>'")
        review = await self._review(token)
        if review is None:
            return AuthDecision(503, "the API server could not review the token; try again")
        if not review.authenticated:
            return AuthDecision(401, "the bearer token is not valid")
        if not review.username.startswith(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:"):
            return AuthDecision(403, f"{review.username} may not call services of namespace {namespace!r}")
        return ALLOWED

    async def _review(self, token: str) -> _Review | None:
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None and cached.expires > now:
            self._cache.move_to_end(token)
            return cached
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        try:
            if self._http is None:
                self._http = httpx.AsyncClient(verify=self._verify, timeout=10.0, trust_env=False)
            response = await self._http.post(
                f"{self._server}/apis/authentication.k8s.io/v1/tokenreviews", json=body, headers=self._headers
            )
        except httpx.HTTPError as exc:
            log.warning("token review failed: %s", exc)
            return None
        if response.status_code not in (200, 201):
            log.warning("token review answered %d", response.status_code)
            return None
        status = (response.json() or {}).get("status") or {}
        review = _Review(
            authenticated=bool(status.get("authenticated")),
            username=str((status.get("user") or {}).get("username") or ""),
            expires=now + self._ttl,
        )
        self._cache[token] = review
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return review

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def reviewer_from_kubeconfig(path: Path, **options: Any) -> TokenReviewer:
    """A reviewer for the API server, user and CA of a kubeconfig's current context.

    Args:
        path: the platform's kubeconfig.
        **options: passed to :class:`TokenReviewer`.

    Returns:
        The reviewer.
    """
    config = yaml.safe_load(path.read_text())
    context_name = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    verify: ssl.SSLContext | bool = True
    if cluster.get("certificate-authority-data"):
        verify = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
    return TokenReviewer(cluster["server"], user["token"], verify=verify, **options)
