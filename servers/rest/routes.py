"""Path matching for the REST surface: fixed paths in a dict, model paths parsed by hand.

No regular expressions and no framework on the hot path: a request path resolves to a
:class:`Route` (what to do, for which model and version, over which protocol) in a few string
operations.
"""

from __future__ import annotations

from typing import NamedTuple

from zeroserve.servers.seldon.paths import ENDPOINTS as SELDON_ENDPOINTS

__all__ = ["Route", "match"]


class Route(NamedTuple):
    """What a request asks for.

    ``action`` is one of the names below; ``protocol`` labels metrics (``v1``, ``v2``, ``seldon``).
    """

    action: str
    model: str = ""
    version: str | None = None
    protocol: str = ""


# (method, path) -> action, for paths without a model name.
_FIXED: dict[tuple[str, str], Route] = {
    ("GET", "/"): Route("live_v1"),
    ("GET", "/v1/models"): Route("list_models_v1"),
    ("GET", "/v1/models/"): Route("list_models_v1"),
    ("GET", "/v2"): Route("server_metadata"),
    ("GET", "/v2/"): Route("server_metadata"),
    ("GET", "/v2/health/live"): Route("live_v2"),
    ("GET", "/v2/health/ready"): Route("ready_v2"),
    ("GET", "/v2/models"): Route("list_models_v2"),
    ("GET", "/v2/models/stats"): Route("model_stats"),  # Triton's: every model's statistics
    ("GET", "/metrics"): Route("metrics"),
    ("POST", "/v2/repository/index"): Route("repository_index"),
}
# Seldon's wrapper paths: action ``seldon_<operation>`` (``seldon_predict`` for predictions).
_FIXED.update({key: Route(f"seldon_{op}", protocol="seldon") for key, op in SELDON_ENDPOINTS.items()})

_KNOWN_PATHS = {path for _, path in _FIXED}

NOT_FOUND = Route("not_found")
METHOD_NOT_ALLOWED = Route("method_not_allowed")


def match(method: str, path: str) -> Route:
    """Resolve a request to a :class:`Route` (``not_found`` / ``method_not_allowed`` when none fits).

    Args:
        method: the HTTP method.
        path: the URL path (percent-decoded, as ASGI gives it).

    Returns:
        The route.
    """
    if method == "HEAD":
        method = "GET"
    fixed = _FIXED.get((method, path))
    if fixed is not None:
        return fixed
    if path.startswith("/v2/models/"):
        return _v2_model(method, path[len("/v2/models/") :])
    if path.startswith("/v1/models/"):
        return _v1_model(method, path[len("/v1/models/") :])
    if path.startswith("/v2/repository/models/"):
        name, _, verb = path[len("/v2/repository/models/") :].rpartition("/")
        if name and verb in ("load", "unload"):
            return Route(verb, name) if method == "POST" else METHOD_NOT_ALLOWED
        return NOT_FOUND
    if path in _KNOWN_PATHS:
        return METHOD_NOT_ALLOWED
    return NOT_FOUND


def _v1_model(method: str, rest: str) -> Route:
    name, colon, verb = rest.rpartition(":")
    if colon and name and "/" not in name:
        if verb in ("predict", "explain"):
            return Route(verb + "_v1", name, protocol="v1") if method == "POST" else METHOD_NOT_ALLOWED
        return NOT_FOUND
    if rest and "/" not in rest:
        return Route("model_v1", rest) if method == "GET" else METHOD_NOT_ALLOWED
    return NOT_FOUND


def _v2_model(method: str, rest: str) -> Route:
    parts = rest.split("/")
    name = parts[0]
    if not name:
        return NOT_FOUND
    version: str | None = None
    tail = parts[1:]
    if len(tail) >= 2 and tail[0] == "versions":
        version = tail[1]
        tail = tail[2:]
    if not tail or tail == [""]:
        action, allowed = "model_metadata", "GET"
    elif tail == ["ready"]:
        action, allowed = "model_ready", "GET"
    elif tail == ["infer"]:
        action, allowed = "infer_v2", "POST"
    elif tail == ["config"] or tail == ["stats"]:  # Triton's model configuration and statistics
        action, allowed = f"model_{tail[0]}", "GET"
    else:
        return NOT_FOUND
    if method != allowed:
        return METHOD_NOT_ALLOWED
    return Route(action, name, version, "v2")
