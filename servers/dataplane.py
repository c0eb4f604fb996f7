"""The transport-independent data plane: health, metadata, inference and the model repository.

REST and gRPC adapters decode a request into a payload (a dict for V1, an
:class:`~zeroserve.servers.types.InferRequest` for V2), call :class:`DataPlane`, and encode what it
returns. This module never imports a web framework or grpc; errors are raised as
:mod:`zeroserve.servers.errors` exceptions and each transport maps them to its status codes.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from zeroserve import __version__
from zeroserve.process import tracing
from zeroserve.servers.batching import BatchConfig, Batcher, Failed, batch_key, join, split
from zeroserve.servers.errors import InvalidInput, ModelNotFound, ModelNotReady
from zeroserve.servers.metrics import InferenceStatistics, PhaseTimers
from zeroserve.servers.model import Model, maybe_await
from zeroserve.servers.repository import LOADING, ModelRepository
from zeroserve.servers.types import InferRequest

__all__ = ["DataPlane", "InputSpec", "batch_config_of"]

Headers = Mapping[str, str]

_log = logging.getLogger(__name__)


class InputSpec:
    """One declared model input (from ``Model.get_input_types()``), checked against requests."""

    __slots__ = ("datatype", "name", "shape")

    def __init__(self, name: str, datatype: str | None, shape: list[int] | None) -> None:
        self.name = name
        self.datatype = datatype
        self.shape = shape

    def check(self, model_name: str, tensor: Any) -> None:
        """Raise :class:`InvalidInput` when ``tensor`` does not match this spec.

        A numeric tensor of another width or a widening kind is converted to the declared datatype.
        """
        where = f"model {model_name} input '{tensor.name}'"
        if self.datatype and tensor.datatype != self.datatype:
            # As KServe, accept numbers of another width (FP64 for FP32, INT64 for FP32); a change of
            # kind that could alter values (float -> int, bytes -> number) is an error.
            try:
                tensor.cast_to(self.datatype)
            except InvalidInput:
                raise InvalidInput(
                    f"{where}: expected datatype {self.datatype}, got {tensor.datatype}"
                ) from None
        shape = self.shape
        if shape is not None and (
            len(shape) != len(tensor.shape)
            or any(want not in (-1, got) for want, got in zip(shape, tensor.shape, strict=True))
        ):
            raise InvalidInput(f"{where}: expected shape {shape}, got {tensor.shape}")


class _Hooks:
    """A model's hooks, resolved once: whether each takes ``response_headers``; its batcher."""

    __slots__ = ("batcher", "inputs", "post_rh", "predict_rh", "stats")

    def __init__(self, model: Model) -> None:
        self.predict_rh = _takes(model.predict, "response_headers")
        self.post_rh = _takes(model.postprocess, "response_headers")
        specs = []
        for item in model.get_input_types() or []:
            shape = item.get("shape")
            specs.append(InputSpec(item["name"], item.get("datatype"), list(shape) if shape else None))
        self.inputs = specs
        self.batcher: Batcher | None = None
        self.stats = InferenceStatistics()


def batch_config_of(model: Model, default: BatchConfig | None) -> BatchConfig | None:
    """The batching settings that apply to ``model``, or ``None`` when it runs unbatched.

    A model's own ``batching`` attribute (a :class:`BatchConfig`, e.g. from MLServer's
    ``model-settings.json``) wins; otherwise the server's ``default`` applies to models that
    declare ``batchable = True``.
    """
    own = getattr(model, "batching", None)
    if isinstance(own, BatchConfig):
        return own
    if default is not None and getattr(model, "batchable", False):
        return default
    return None


def _takes(fn: Callable[..., Any], param: str) -> bool:
    try:
        return param in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class DataPlane:
    """Answers the protocol operations over a :class:`ModelRepository`.

    Args:
        repository: the models served.
        server_name: ``name`` in the V2 server metadata.
        server_version: ``version`` in the V2 server metadata.
        enable_model_repository: whether the transports serve the repository extension (listed in
            the server metadata only then).
        batching: the server's batching settings for models with ``batchable = True``; ``None``:
            only models with their own ``batching`` settings are batched.
        observe_batch: ``(model, rows, waits)``, told of every batch flushed (metrics).
        phase_timers: gives a model's KServe phase histograms (metrics), fed by its statistics.
    """

    def __init__(
        self,
        repository: ModelRepository,
        server_name: str = "zeroserve",
        server_version: str = __version__,
        *,
        enable_model_repository: bool = False,
        batching: BatchConfig | None = None,
        observe_batch: Callable[[str, int, Sequence[float]], None] | None = None,
        phase_timers: Callable[[str], PhaseTimers] | None = None,
    ) -> None:
        self.repository = repository
        self.batching = batching
        self._observe_batch = observe_batch
        self._phase_timers = phase_timers
        extensions = ["binary_tensor_data"]
        if enable_model_repository:
            extensions.insert(0, "model_repository_extension")
        self._metadata = {"name": server_name, "version": server_version, "extensions": extensions}
        self._hooks: dict[str, _Hooks] = {}
        self.live = True
        """Set to ``False`` while shutting down (``/v2/health/live`` then answers 503)."""
        repository.add_listener(self._forget)

    def _forget(self, model_name: str) -> None:
        self._hooks.pop(model_name, None)

    # -- health and metadata ---------------------------------------------------------------------

    async def ready(self) -> bool:
        """Whether the server is live, serves at least one model and every served model is healthy.

        A server with no model (every one unloaded) is not ready: it would answer every inference
        with 404, so a load balancer should not send it any.
        """
        if not self.live:
            return False
        models = self.repository.get_models()
        if not models:
            return False
        for model in models:
            if not await maybe_await(model.healthy()):
                return False
        return True

    def server_metadata(self) -> dict[str, Any]:
        """The V2 server metadata (``GET /v2``)."""
        return self._metadata

    def model_names(self) -> list[str]:
        """Names of the served models (``GET /v1/models``)."""
        return [m.name for m in self.repository.get_models()]

    def get_model(self, name: str, version: str | None = None) -> Model:
        """The served model ``name`` (and ``version``, when the model has one).

        Raises:
            ModelNotFound: no such model or version, or a known model that is not loaded (the
                message says why, ``reason_code`` the repository's reason).
            ModelNotReady: a model of the model config that is loading now.
        """
        model = self.repository.get_model(name)
        if model is None:
            state = self.repository.unavailable(name)
            if state is None:
                raise ModelNotFound(name)
            if state.reason == LOADING:
                raise ModelNotReady(name, f"It is {state.message}.", reason_code=state.reason)
            raise ModelNotFound(name, state.message, reason_code=state.reason)
        if version:
            own = getattr(model, "version", None)
            if own is not None and str(own) != version:
                raise ModelNotFound(f"{name} (version {version})")
        return model

    async def model_ready(self, name: str, version: str | None = None) -> bool:
        """Whether model ``name`` is ready (404 if unknown)."""
        model = self.get_model(name, version)
        return bool(model.ready) and bool(await maybe_await(model.healthy()))

    async def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        """The V2 model metadata, with tensor metadata when the model declares it."""
        model = self.get_model(name, version)
        meta: dict[str, Any] = {
            "name": model.name,
            "versions": [],
            "platform": getattr(model, "platform", ""),
        }
        own = getattr(model, "version", None)
        if own is not None:
            meta["versions"] = [str(own)]
        meta["inputs"] = list(await maybe_await(model.get_input_types()) or [])
        meta["outputs"] = list(await maybe_await(model.get_output_types()) or [])
        return meta

    async def model_config(self, name: str, version: str | None = None) -> dict[str, Any]:
        """The model's configuration as Triton answers ``GET /v2/models/<m>/config`` (tritonclient's
        ``get_model_config``): tensors from the declared inputs/outputs, batching from the batcher.

        With batching on, ``max_batch_size`` is the batcher's and ``dims`` leave out the first
        (batch) dimension, as in Triton; ``dynamic_batching`` carries the batcher's delay.
        """
        model = self.get_model(name, version)
        own = getattr(model, "get_model_config", None)
        if callable(own):  # a model with a configuration of its own (Triton's config.pbtxt)
            return dict(await maybe_await(own()))
        batching = batch_config_of(model, self.batching)
        max_batch = batching.max_batch_size if batching is not None else 0

        def tensor(item: Mapping[str, Any], kind: str) -> dict[str, Any]:
            shape = [int(d) for d in item.get("shape") or []]
            dims = shape[1:] if max_batch and shape else shape
            datatype = str(item.get("datatype") or "")
            entry: dict[str, Any] = {
                "name": item["name"],
                "data_type": "TYPE_" + ("STRING" if datatype == "BYTES" else datatype or "INVALID"),
            }
            if kind == "input":
                entry.update(format="FORMAT_NONE", dims=dims, is_shape_tensor=False)
                entry.update(allow_ragged_batch=False, optional=False)
            else:
                entry.update(dims=dims, label_filename="", is_shape_tensor=False)
            return entry

        config: dict[str, Any] = {
            "name": model.name,
            "platform": getattr(model, "platform", "") or "",
            "backend": getattr(model, "runtime", "") or "python",
            "version_policy": {"latest": {"num_versions": 1}},
            "max_batch_size": max_batch,
            "input": [tensor(t, "input") for t in await maybe_await(model.get_input_types()) or []],
            "output": [tensor(t, "output") for t in await maybe_await(model.get_output_types()) or []],
            "default_model_filename": "",
            "parameters": {},
        }
        if batching is not None:
            config["dynamic_batching"] = {
                "preferred_batch_size": [batching.max_batch_size],
                "max_queue_delay_microseconds": int(batching.max_latency_ms * 1000),
                "preserve_ordering": True,
            }
        return config

    def model_statistics(self, name: str | None = None, version: str | None = None) -> dict[str, Any]:
        """Inference statistics as Triton answers ``GET /v2/models[/<m>]/stats`` (tritonclient's
        ``get_inference_statistics``): every served model when ``name`` is empty."""
        models = [self.get_model(name, version)] if name else list(self.repository.get_models())
        stats = []
        for model in models:
            hooks = self._hooks.get(model.name)  # none yet: the model has not been asked anything
            record = hooks.stats if hooks is not None else InferenceStatistics()
            own = getattr(model, "version", None)
            stats.append(record.to_json(model.name, "" if own is None else str(own)))
        return {"model_stats": stats}

    # -- inference -------------------------------------------------------------------------------

    def _ready_model(self, name: str, version: str | None) -> tuple[Model, _Hooks]:
        model = self.repository.get_model(name)
        if model is None or version:
            model = self.get_model(name, version)
        if not model.ready:
            raise ModelNotReady(name)
        self.repository.use(name)
        hooks = self._hooks.get(name)
        if hooks is None:
            hooks = self._hooks[name] = self._resolve_hooks(model)
        return model, hooks

    def _resolve_hooks(self, model: Model) -> _Hooks:
        hooks = _Hooks(model)
        if self._phase_timers is not None:
            hooks.stats.timers = self._phase_timers(model.name)
        config = batch_config_of(model, self.batching)
        if config is not None:
            report, name, queue = self._observe_batch, model.name, hooks.stats.queue

            def observe(rows: int, waits: Sequence[float]) -> None:
                for wait in waits:
                    queue.add(int(wait * 1e9))
                if report is not None:
                    report(name, rows, waits)

            async def execute(
                payloads: Sequence[Any], counts: Sequence[int], headers: Sequence[Headers]
            ) -> tuple[list[Any], dict[str, str]]:
                response_headers: dict[str, str] = {}
                try:
                    joined = join(payloads)
                    result = await self._pipeline(
                        model, hooks, joined, headers[0], response_headers, sum(counts)
                    )
                    return split(result, payloads, counts), response_headers
                except Exception:
                    if len(payloads) == 1:
                        raise
                    _log.warning(
                        "model %s: a batch of %d requests failed; running them one by one",
                        model.name,
                        len(payloads),
                        exc_info=True,
                    )
                # one request the model refuses (a NaN only it checks, say) must not fail the others
                answers: list[Any] = []
                for payload, own_headers in zip(payloads, headers, strict=True):
                    try:
                        answers.append(
                            await self._pipeline(model, hooks, payload, own_headers, response_headers, 1)
                        )
                    except Exception as exc:
                        answers.append(Failed(exc))
                return answers, response_headers

            hooks.batcher = Batcher(config, execute, observe)
        return hooks

    async def infer(
        self,
        model_name: str,
        payload: Any,
        headers: Headers,
        response_headers: dict[str, str] | None = None,
        version: str | None = None,
    ) -> Any:
        """Run ``preprocess -> predict -> postprocess`` of the model on a decoded payload.

        With batching on for the model, a payload that can join a batch waits for it (see
        :mod:`zeroserve.servers.batching`) and this returns the caller's own part of the answer.

        Args:
            model_name: the model to run.
            payload: a V1 dict or a V2 :class:`InferRequest`.
            headers: the request headers (lower-case names).
            response_headers: filled by models whose hooks take ``response_headers``.
            version: the requested model version, if any.

        Returns:
            What ``postprocess`` returned; the transport encodes it.

        Raises:
            ModelNotFound: unknown model. ModelNotReady: model not ready. InvalidInput: the
            payload does not fit the model's declared inputs. Anything the model raises.
        """
        model, hooks = self._ready_model(model_name, version)
        started = time.perf_counter_ns()
        try:
            if hooks.inputs and isinstance(payload, InferRequest):
                self._check_inputs(model_name, hooks.inputs, payload)
            batcher = hooks.batcher
            keyed = batch_key(payload, batcher.config.max_batch_size) if batcher is not None else None
            if keyed is not None:
                if tracing.on:
                    with tracing.span("batch", attributes={"zeroserve.model": model_name}):
                        result = await batcher.submit(keyed[0], payload, keyed[1], headers, response_headers)  # type: ignore[union-attr]
                else:
                    result = await batcher.submit(keyed[0], payload, keyed[1], headers, response_headers)  # type: ignore[union-attr]
            else:
                result = await self._pipeline(model, hooks, payload, headers, response_headers, 1)
        except Exception:
            hooks.stats.record_request(False, time.perf_counter_ns() - started, int(time.time() * 1000))
            raise
        hooks.stats.record_request(True, time.perf_counter_ns() - started, int(time.time() * 1000))
        return result

    @staticmethod
    async def _pipeline(
        model: Model,
        hooks: _Hooks,
        payload: Any,
        headers: Headers,
        response_headers: dict[str, str] | None,
        rows: int,
    ) -> Any:
        if tracing.on:
            return await DataPlane._pipeline_traced(model, hooks, payload, headers, response_headers, rows)
        t0 = time.perf_counter_ns()
        value = model.preprocess(payload, headers)
        if inspect.isawaitable(value):
            value = await value
        t1 = time.perf_counter_ns()
        if hooks.predict_rh:
            value = model.predict(value, headers, response_headers=response_headers)  # type: ignore[call-arg]
        else:
            value = model.predict(value, headers)
        if inspect.isawaitable(value):
            value = await value
        t2 = time.perf_counter_ns()
        if hooks.post_rh:
            value = model.postprocess(value, headers, response_headers=response_headers)  # type: ignore[call-arg]
        else:
            value = model.postprocess(value, headers)
        if inspect.isawaitable(value):
            value = await value
        hooks.stats.record_execution(rows, t1 - t0, t2 - t1, time.perf_counter_ns() - t2)
        return value

    @staticmethod
    async def _pipeline_traced(
        model: Model,
        hooks: _Hooks,
        payload: Any,
        headers: Headers,
        response_headers: dict[str, str] | None,
        rows: int,
    ) -> Any:
        """:meth:`_pipeline` with a span per phase (tracing on; off, the plain one pays one check)."""
        t0 = time.perf_counter_ns()
        with tracing.span("preprocess"):
            value = await maybe_await(model.preprocess(payload, headers))
        t1 = time.perf_counter_ns()
        with tracing.span("predict", attributes={"zeroserve.model": model.name}):
            if hooks.predict_rh:
                value = model.predict(value, headers, response_headers=response_headers)  # type: ignore[call-arg]
            else:
                value = model.predict(value, headers)
            value = await maybe_await(value)
        t2 = time.perf_counter_ns()
        with tracing.span("postprocess"):
            if hooks.post_rh:
                value = model.postprocess(value, headers, response_headers=response_headers)  # type: ignore[call-arg]
            else:
                value = model.postprocess(value, headers)
            value = await maybe_await(value)
        hooks.stats.record_execution(rows, t1 - t0, t2 - t1, time.perf_counter_ns() - t2)
        return value

    async def explain(self, model_name: str, payload: Any, headers: Headers) -> Any:
        """Run ``preprocess -> explain -> postprocess`` of the model (V1 ``:explain``)."""
        model, hooks = self._ready_model(model_name, None)
        value = await maybe_await(model.preprocess(payload, headers))
        started = time.perf_counter_ns()
        value = await maybe_await(model.explain(value, headers))
        hooks.stats.record_explain(time.perf_counter_ns() - started)
        return await maybe_await(model.postprocess(value, headers))

    @staticmethod
    def _check_inputs(model_name: str, specs: list[InputSpec], request: InferRequest) -> None:
        if len(specs) == 1 and len(request.inputs) == 1:
            specs[0].check(model_name, request.inputs[0])
            return
        given = {t.name: t for t in request.inputs}
        for spec in specs:
            tensor = given.get(spec.name)
            if tensor is None:
                expected = [s.name for s in specs]
                raise InvalidInput(
                    f"model {model_name}: missing input '{spec.name}' (expects {expected}, got {list(given)})"
                )
            spec.check(model_name, tensor)

    # -- repository extension ----------------------------------------------------------------------

    async def load(self, name: str) -> None:
        """Load (or reload) model ``name`` (``POST /v2/repository/models/<m>/load``)."""
        await self.repository.load(name)

    async def unload(self, name: str) -> None:
        """Unload model ``name`` (``POST /v2/repository/models/<m>/unload``); 404 if not served."""
        await self.repository.unload(name)

    def repository_index(self) -> list[dict[str, Any]]:
        """Every known model with its state (``POST /v2/repository/index``)."""
        index = []
        listed = set()
        for model, served in self.repository.known_models():
            state = "READY" if served and model.ready else ("UNAVAILABLE" if not served else "LOADING")
            entry: dict[str, Any] = {"name": model.name, "state": state}
            if not served:
                entry["reason"] = self.repository.reason(model.name) or "unloaded"
            index.append(entry)
            listed.add(model.name)
        for name, why in self.repository.unavailable_models().items():  # loading, or failed to load
            if name not in listed:
                state = "LOADING" if why.reason == LOADING else "UNAVAILABLE"
                index.append({"name": name, "state": state, "reason": why.message})
        return index
