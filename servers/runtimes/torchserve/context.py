"""The ``context`` TorchServe hands to a handler's ``initialize`` and ``handle``.

Only the surface handlers use: ``system_properties`` (``model_dir``, ``gpu_id``, ``batch_size``,
``server_name``), ``manifest``, ``model_name``, the request headers by batch index, and response
headers/status a handler may set (kept; the response carries the status code only when it is an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Context"]


class Context:
    """TorchServe's ``ts.context.Context`` as a handler sees it.

    Args:
        model_name: the model's name.
        model_dir: the extracted archive folder.
        manifest: the archive's manifest.
        batch_size: the snapshot's ``batchSize``.
        gpu_id: the GPU index, ``None`` on CPU.
    """

    def __init__(
        self,
        model_name: str,
        model_dir: str,
        manifest: Mapping[str, Any],
        batch_size: int = 1,
        gpu_id: int | None = None,
    ) -> None:
        self.model_name = model_name
        self.manifest = dict(manifest)
        self.system_properties: dict[str, Any] = {
            "model_dir": model_dir,
            "gpu_id": gpu_id,
            "batch_size": batch_size,
            "server_name": "zeroserve",
            "server_version": "0.1.0",
            "limit_max_image_pixels": True,
        }
        self.request_ids: dict[int, str] = {}
        self.request_headers: list[dict[str, str]] = []
        self.response_headers: dict[int, dict[str, str]] = {}
        self.response_status: dict[int, tuple[int, str]] = {}
        self.metrics: Any = None

    def begin(self, headers: Mapping[str, str] | None, rows: int, request_id: str = "") -> None:
        """Reset per-request state before ``handle`` (one request of ``rows`` rows)."""
        shared = dict(headers or {})
        self.request_headers = [shared for _ in range(max(rows, 1))]
        self.request_ids = {i: request_id for i in range(max(rows, 1))}
        self.response_headers = {}
        self.response_status = {}

    def get_request_id(self, idx: int = 0) -> str | None:
        """The request id of batch row ``idx``."""
        return self.request_ids.get(idx)

    def get_request_header(self, idx: int, key: str) -> str | None:
        """A request header of batch row ``idx`` (names are case-insensitive)."""
        if idx >= len(self.request_headers):
            return None
        return self.request_headers[idx].get(key.lower())

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        """Every request header of batch row ``idx``."""
        return dict(self.request_headers[idx]) if idx < len(self.request_headers) else {}

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        """Set a response header for batch row ``idx``."""
        self.response_headers.setdefault(idx, {})[key] = value

    def get_response_headers(self, idx: int) -> dict[str, str]:
        """The response headers set for batch row ``idx``."""
        return dict(self.response_headers.get(idx, {}))

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        """Set the status of batch row ``idx`` (a 4xx/5xx turns the answer into that error)."""
        self.response_status[idx] = (code, phrase)
