"""ServiceAccount tokens: ``TokenRequest``, ``TokenReview`` and the signing key.

As in Kubernetes, ``POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`` (what ``kubectl
create token`` sends) returns a JWT naming the ServiceAccount, its audiences and an expiry, and
``POST /apis/authentication.k8s.io/v1/tokenreviews`` tells a component (the gateway, for KServe's
``serving.kserve.io/enable-auth``) whether a token is genuine: ``status.authenticated``,
``status.user.username`` ``system:serviceaccount:<ns>:<name>`` and the ServiceAccount groups.

Tokens are JWTs signed with HMAC-SHA256 by a key kept in the state folder (``apiserver/sa.key``,
0600), so they stay valid across restarts; only this server can verify them, through TokenReview. A
token stops being valid when it expires, when its audiences do not match the review's, and when its
ServiceAccount is deleted (or re-created: the uid is checked). The platform's own bearer token
reviews as the ``zeroserve:admin`` user in ``system:masters``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.registry import NAMESPACE_KEY, Registry
from zeroserve.local.apiserver.writes import create_object
from zeroserve.process.private import FILE_MODE, private_folder

__all__ = [
    "API_AUDIENCE",
    "DEFAULT_EXPIRATION_SECONDS",
    "InvalidToken",
    "TokenIssuer",
    "ensure_default_service_accounts",
    "load_or_create_key",
    "token_request",
    "token_review",
]

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
"""The audience (and issuer) of a token requested without audiences, as on a kubeadm cluster."""
DEFAULT_EXPIRATION_SECONDS = 3600
_MIN_EXPIRATION_SECONDS = 600
_MAX_EXPIRATION_SECONDS = 48 * 3600
_SA_KEY = ("", "serviceaccounts")
_GROUP = "authentication.k8s.io/v1"


def ensure_default_service_accounts(registry: Registry, namespace: str | None = None) -> None:
    """Create the ``default`` ServiceAccount of a namespace (or of every namespace) where it is missing,
    as Kubernetes' ServiceAccount controller does.

    Args:
        registry: the registry.
        namespace: one namespace; ``None`` for all of them.
    """
    sa_type = next(rt for rt in registry.types() if rt.key == _SA_KEY)
    namespaces = registry.objects(NAMESPACE_KEY)
    for ns in namespaces:
        name = ns["metadata"]["name"]
        if namespace is not None and name != namespace:
            continue
        if "deletionTimestamp" in ns["metadata"] or registry.lookup(sa_type, name, "default") is not None:
            continue
        create_object(registry, sa_type, "v1", name, {"metadata": {"name": "default"}})


class InvalidToken(Exception):
    """Why a token is not accepted (the message goes into ``TokenReview.status.error``)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(folder: Path | None) -> bytes:
    """The signing key: read from ``folder/sa.key``, created (0600) when missing.

    Args:
        folder: the API server's folder; ``None`` for a fresh key kept in memory.

    Returns:
        32 random bytes.
    """
    if folder is None:
        return secrets.token_bytes(32)
    path = folder / "sa.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    private_folder(folder)
    temporary = path.with_name("sa.key.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_bytes(32).hex())
    temporary.replace(path)
    return bytes.fromhex(path.read_text().strip())


class TokenIssuer:
    """Signs and verifies ServiceAccount JWTs.

    Args:
        key: the HMAC key.
        now: the clock (seconds since the epoch); tests pass their own.
    """

    def __init__(self, key: bytes, now: Callable[[], float] = time.time) -> None:
        self._key = key
        self._now = now

    def issue(
        self,
        namespace: str,
        service_account: dict[str, Any],
        audiences: list[str],
        expiration_seconds: int,
        bound: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        """Sign a token for a ServiceAccount.

        Args:
            namespace: its namespace.
            service_account: the stored ServiceAccount.
            audiences: who the token is for.
            expiration_seconds: its lifetime.
            bound: ``spec.boundObjectRef`` of the request, recorded in the claims.

        Returns:
            The token and its expiry (seconds since the epoch).
        """
        issued = int(self._now())
        expires = issued + expiration_seconds
        meta = service_account["metadata"]
        claims: dict[str, Any] = {
            "aud": audiences,
            "exp": expires,
            "iat": issued,
            "nbf": issued,
            "iss": API_AUDIENCE,
            "jti": secrets.token_hex(16),
            "sub": f"system:serviceaccount:{namespace}:{meta['name']}",
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": meta["name"], "uid": meta["uid"]},
            },
        }
        if bound:
            claims["kubernetes.io"][str(bound.get("kind", "object")).lower()] = {
                "name": bound.get("name", ""),
                "uid": bound.get("uid", ""),
            }
        header = {"alg": "HS256", "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}", expires

    def verify(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Check a token's signature, lifetime and audiences.

        Args:
            token: the JWT.
            audiences: the audiences the reviewer accepts (one must be in the token's).

        Returns:
            The token's claims.

        Raises:
            InvalidToken: saying why it is refused.
        """
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT issued by this server")
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            genuine = hmac.compare_digest(_unb64(parts[2]), expected)
            claims = json.loads(_unb64(parts[1])) if genuine else None
        except ValueError:
            raise InvalidToken("not a JWT issued by this server") from None
        if not isinstance(claims, dict):
            raise InvalidToken("invalid signature: not a token issued by this server")
        now = self._now()
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise InvalidToken("the token has expired")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + 60:
            raise InvalidToken("the token is not valid yet")
        if not set(audiences) & set(claims.get("aud") or []):
            raise InvalidToken(f"the token's audiences {claims.get('aud')} do not include any of {audiences}")
        return claims


def token_request(
    registry: Registry, issuer: TokenIssuer, namespace: str, name: str, body: Any
) -> dict[str, Any]:
    """Answer ``POST .../serviceaccounts/<name>/token``.

    Args:
        registry: where the ServiceAccount is.
        issuer: the signer.
        namespace: the namespace from the URL.
        name: the ServiceAccount's name.
        body: the decoded ``TokenRequest``.

    Returns:
        The ``TokenRequest`` with ``status.token`` and ``status.expirationTimestamp``.

    Raises:
        ApiError: 404 for a missing ServiceAccount, 400 or 422 for a bad request.
    """
    if not isinstance(body, dict) or body.get("kind", "TokenRequest") != "TokenRequest":
        raise errors.bad_request("the request body must be a TokenRequest")
    sa_type = next(rt for rt in registry.types() if rt.key == _SA_KEY)
    service_account = registry.get(sa_type, namespace, name)
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise errors.bad_request("spec must be an object")
    audiences = spec.get("audiences") or [API_AUDIENCE]
    seconds = spec.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS
    problems = []
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        problems.append(
            errors.FieldError("FieldValueInvalid", "spec.audiences", "Invalid value: must be strings")
        )
    if not isinstance(seconds, int) or seconds < _MIN_EXPIRATION_SECONDS:
        detail = f"Invalid value: {seconds!r}: may not specify a duration less than 10 minutes"
        problems.append(errors.FieldError("FieldValueInvalid", "spec.expirationSeconds", detail))
    if problems:
        raise errors.invalid("TokenRequest", "authentication.k8s.io", name, problems)
    seconds = min(seconds, _MAX_EXPIRATION_SECONDS)
    bound = spec.get("boundObjectRef") if isinstance(spec.get("boundObjectRef"), dict) else None
    token, expires = issuer.issue(namespace, service_account, list(audiences), seconds, bound)
    expiry = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "TokenRequest",
        "apiVersion": _GROUP,
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {"audiences": list(audiences), "expirationSeconds": seconds, "boundObjectRef": bound},
        "status": {"token": token, "expirationTimestamp": expiry},
    }


def token_review(
    registry: Registry, issuer: TokenIssuer, body: Any, admin_token: str | None
) -> dict[str, Any]:
    """Answer ``POST /apis/authentication.k8s.io/v1/tokenreviews``.

    Args:
        registry: where ServiceAccounts are (a token of a deleted one is refused).
        issuer: the verifier.
        body: the decoded ``TokenReview``.
        admin_token: the platform's own bearer token (reviews as ``zeroserve:admin``).

    Returns:
        The ``TokenReview`` with its ``status``.

    Raises:
        ApiError: 400 when the body is not a TokenReview with a token.
    """
    if not isinstance(body, dict) or body.get("kind", "TokenReview") != "TokenReview":
        raise errors.bad_request("the request body must be a TokenReview")
    spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise errors.invalid(
            "TokenReview",
            "authentication.k8s.io",
            "",
            [errors.FieldError("FieldValueRequired", "spec.token", "Required value")],
        )
    wanted = spec.get("audiences") or [API_AUDIENCE]
    review = {
        "kind": "TokenReview",
        "apiVersion": _GROUP,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
    }
    if admin_token is not None and hmac.compare_digest(token.encode(), admin_token.encode()):
        user = {"username": "zeroserve:admin", "groups": ["system:masters", "system:authenticated"]}
        review["status"] = {"authenticated": True, "user": user, "audiences": wanted}
        return review
    try:
        claims = issuer.verify(token, wanted)
        user = _service_account_user(registry, claims)
    except InvalidToken as exc:
        review["status"] = {"authenticated": False, "user": {}, "error": str(exc)}
        return review
    audiences = [a for a in claims.get("aud") or [] if a in wanted]
    review["status"] = {"authenticated": True, "user": user, "audiences": audiences}
    return review


def _service_account_user(registry: Registry, claims: dict[str, Any]) -> dict[str, Any]:
    info = claims.get("kubernetes.io") or {}
    namespace = str(info.get("namespace") or "")
    account = info.get("serviceaccount") or {}
    name, uid = str(account.get("name") or ""), str(account.get("uid") or "")
    sa_type = next(rt for rt in registry.types() if rt.key == _SA_KEY)
    stored = registry.lookup(sa_type, namespace, name)
    if stored is None or stored["metadata"].get("uid") != uid or "deletionTimestamp" in stored["metadata"]:
        raise InvalidToken(f'the service account "{namespace}/{name}" of the token no longer exists')
    return {
        "username": f"system:serviceaccount:{namespace}:{name}",
        "uid": uid,
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]},
    }
