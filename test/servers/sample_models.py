"""Small models the data plane tests serve (importable by subprocess servers too)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

import numpy as np

from zeroserve.servers import (
    InferOutput,
    InferRequest,
    InferResponse,
    InvalidInput,
    Model,
    get_predict_input,
    get_predict_response,
)


class SumModel(Model):
    """Row sums: V1 ``instances`` -> ``predictions``; V2 one input -> ``output-0`` (FP64)."""

    def predict(self, payload: Any, headers: Any = None) -> Any:
        x = np.asarray(get_predict_input(payload), dtype=np.float64)
        return get_predict_response(payload, x.sum(axis=-1), self.name)


class DeclaredModel(Model):
    """Declares its tensors, so the data plane checks shape and datatype before ``predict``."""

    version = "3"

    def get_input_types(self) -> list[dict[str, Any]]:
        return [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [{"name": "doubled", "datatype": "FP32", "shape": [-1, 4]}]

    async def predict(self, payload: InferRequest, headers: Any = None) -> InferResponse:
        x = payload.inputs[0].as_numpy()
        out = InferOutput("doubled", list(x.shape), "FP32")
        out.set_data_from_numpy((x * 2).astype(np.float32))
        return InferResponse(payload.id, self.name, [out])


class MultiOutputModel(Model):
    """Two inputs (FP32 ``a``, BYTES ``s``) -> ``sum`` (FP32), ``upper`` (BYTES), ``flag`` (BOOL)."""

    def predict(self, payload: InferRequest, headers: Any = None) -> InferResponse:
        a = payload.get_input_by_name("a")
        s = payload.get_input_by_name("s")
        if a is None or s is None:
            raise InvalidInput("expects inputs 'a' and 's'")
        arr = a.as_numpy()
        total = InferOutput("sum", [arr.shape[0]], "FP32")
        total.set_data_from_numpy(arr.sum(axis=1).astype(np.float32))
        words = s.as_numpy()
        upper = InferOutput("upper", list(words.shape), "BYTES")
        upper.set_data_from_numpy(
            np.array([w.upper() for w in words.ravel()], dtype=object).reshape(words.shape)
        )
        flag = InferOutput("flag", [arr.shape[0]], "BOOL")
        flag.set_data_from_numpy(arr.sum(axis=1) > 0)
        return InferResponse(payload.id, self.name, [total, upper, flag])


class FailingModel(Model):
    """Raises inside ``predict`` (an inference error, 500)."""

    def predict(self, payload: Any, headers: Any = None) -> Any:
        raise RuntimeError("boom in predict")


class HeaderModel(Model):
    """Answers with a response header and echoes a request header (KServe's ``response_headers``)."""

    async def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
        if response_headers is not None:
            response_headers["x-model-header"] = "set-by-model"
        await asyncio.sleep(0)
        return {"predictions": [headers.get("x-custom", "") if headers else ""]}


class SlowModel(Model):
    """Takes ``delay`` seconds per request; touches ``marker`` when a request starts (shutdown tests)."""

    def __init__(self, name: str, delay: float = 0.5, marker: str | None = None) -> None:
        super().__init__(name)
        self.delay = delay
        self.marker = marker

    async def predict(self, payload: Any, headers: Any = None) -> Any:
        if self.marker:
            _touch(self.marker)
        await asyncio.sleep(self.delay)
        return {"predictions": ["done"]}


class LoggingModel(Model):
    """Logs one line from inside ``predict`` (the request id must reach it)."""

    def predict(self, payload: Any, headers: Any = None) -> Any:
        logging.getLogger("test.sample_models.logging").info("predicting inside the model")
        return {"predictions": [0]}


class PidModel(Model):
    """Answers with the id of the process that served the request (worker tests)."""

    def predict(self, payload: Any, headers: Any = None) -> Any:
        return {"predictions": [os.getpid()]}


def _touch(path: str) -> None:
    with open(path, "w") as f:
        f.write("started")


class SinkModel(Model):
    """Records what reaches it with its ``ce-*`` headers (a CloudEvents sink for the payload logger)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.events: list[tuple[dict[str, str], Any]] = []
        self.received = threading.Condition()

    def predict(self, payload: Any, headers: Any = None) -> Any:
        ce = {k: v for k, v in (headers or {}).items() if k.startswith("ce-")}
        with self.received:
            self.events.append((ce, payload))
            self.received.notify_all()
        return {"predictions": []}

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[dict[str, str], Any]]:
        """The first ``count`` events, waiting up to ``timeout`` seconds for them."""
        with self.received:
            if not self.received.wait_for(lambda: len(self.events) >= count, timeout):
                raise TimeoutError(f"only {len(self.events)} of {count} events arrived")
            return list(self.events)
