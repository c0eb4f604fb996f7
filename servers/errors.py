"""The data plane's exceptions and how each one answers on the wire.

Every error a model or the server raises on purpose derives from :class:`ServingError`, which
carries the HTTP status and the gRPC status code name that KServe's server uses for it. Transports
never decide a status themselves: the REST app reads ``status_code``, the gRPC servicer reads
``grpc_code``; any other exception is an internal error (500 / ``INTERNAL``).

Tree::

    ServingError
    +-- InvalidInput          400  INVALID_ARGUMENT
    +-- ModelNotFound         404  NOT_FOUND
    +-- RequestTimeout        408  DEADLINE_EXCEEDED
    +-- RequestTooLarge       413  RESOURCE_EXHAUSTED
    +-- InferenceError        500  INTERNAL
    +-- UnsupportedProtocol   501  UNIMPLEMENTED
    +-- NotImplementedYet     501  UNIMPLEMENTED
    +-- ModelNotReady         503  UNAVAILABLE
    +-- ServerNotReady        503  UNAVAILABLE
    +-- ServerNotLive         503  UNAVAILABLE
    +-- ModelLoadError        503  UNAVAILABLE
    +-- PredictorError        the predictor's own status (transformer mode)
"""

from __future__ import annotations

__all__ = [
    "InferenceError",
    "InvalidInput",
    "ModelLoadError",
    "ModelNotFound",
    "ModelNotReady",
    "NotImplementedYet",
    "PredictorError",
    "RequestTimeout",
    "RequestTooLarge",
    "ServerNotLive",
    "ServerNotReady",
    "ServingError",
    "UnsupportedProtocol",
    "status_of",
]


class ServingError(Exception):
    """Base of every error the data plane answers with a chosen status.

    Attributes:
        status_code: the HTTP status of the answer.
        grpc_code: the name of the ``grpc.StatusCode`` member of the answer.
        reason: the message put in the ``{"error": ...}`` body.
    """

    status_code = 500
    grpc_code = "INTERNAL"
    reason_code: str | None = None
    """Why a model is not served, as a CamelCase word (``UnloadedLeastRecentlyUsed``, ``Loading``);
    REST error bodies carry it as ``reason_code`` next to ``error`` (multi-model serving)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class InvalidInput(ServingError):
    """The request is malformed or does not fit the model (shape, datatype, missing field)."""

    status_code = 400
    grpc_code = "INVALID_ARGUMENT"


class ModelNotFound(ServingError):
    """No model with the requested name is served here.

    Args:
        model_name: the model asked for.
        detail: why a model the server knows is not served (e.g. the LRU unloaded it); without it
            the model does not exist.
        reason_code: ``detail`` as a CamelCase word (see :attr:`ServingError.reason_code`).
    """

    status_code = 404
    grpc_code = "NOT_FOUND"

    def __init__(self, model_name: str, detail: str | None = None, reason_code: str | None = None) -> None:
        if detail:
            super().__init__(f"Model with name {model_name} is not loaded: {detail}.")
        else:
            super().__init__(f"Model with name {model_name} does not exist.")
        self.model_name = model_name
        self.reason_code = reason_code


class RequestTimeout(ServingError):
    """The request body did not arrive within the server's read timeout (a slow or half-sent body)."""

    status_code = 408
    grpc_code = "DEADLINE_EXCEEDED"


class RequestTooLarge(ServingError):
    """The request body is larger than the server's configured limit."""

    status_code = 413
    grpc_code = "RESOURCE_EXHAUSTED"


class InferenceError(ServingError):
    """The model failed while computing an answer."""

    status_code = 500
    grpc_code = "INTERNAL"


class UnsupportedProtocol(ServingError):
    """The request uses a protocol or feature the model or server does not speak."""

    status_code = 501
    grpc_code = "UNIMPLEMENTED"


class NotImplementedYet(ServingError):
    """A route or hook exists in the protocol but this server or model does not implement it."""

    status_code = 501
    grpc_code = "UNIMPLEMENTED"


class ModelNotReady(ServingError):
    """The model exists but is not (yet, or any more) ready to serve."""

    status_code = 503
    grpc_code = "UNAVAILABLE"

    def __init__(self, model_name: str, detail: str | None = None, reason_code: str | None = None) -> None:
        msg = f"Model with name {model_name} is not ready."
        super().__init__(f"{msg} {detail}" if detail else msg)
        self.model_name = model_name
        self.reason_code = reason_code


class ServerNotReady(ServingError):
    """The server is up but not every model is ready."""

    status_code = 503
    grpc_code = "UNAVAILABLE"


class ServerNotLive(ServingError):
    """The server is shutting down."""

    status_code = 503
    grpc_code = "UNAVAILABLE"


class ModelLoadError(ServingError):
    """Loading a model failed (repository load, or start-up)."""

    status_code = 503
    grpc_code = "UNAVAILABLE"


class PredictorError(ServingError):
    """A transformer's predictor answered with an error; its status and message are passed on.

    Args:
        status_code: the predictor's HTTP status (or the HTTP equivalent of its gRPC code).
        grpc_code: the gRPC status code name to answer with.
        reason: the predictor's error message, prefixed with where it came from.
    """

    def __init__(self, status_code: int, grpc_code: str, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.grpc_code = grpc_code


def status_of(exc: BaseException) -> tuple[int, str, str]:
    """Map any exception to the answer the server gives for it.

    Args:
        exc: the exception raised while handling a request.

    Returns:
        ``(http_status, grpc_code_name, message)``. A :class:`ServingError` keeps its own status;
        ``NotImplementedError`` is 501 as in KServe; anything else is 500 with ``"<Type> : <msg>"``.
    """
    if isinstance(exc, ServingError):
        return exc.status_code, exc.grpc_code, exc.reason
    if isinstance(exc, NotImplementedError):
        return 501, "UNIMPLEMENTED", str(exc) or "Not implemented."
    return 500, "INTERNAL", f"{type(exc).__name__} : {exc}"
