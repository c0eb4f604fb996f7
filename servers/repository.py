"""The set of models a server holds, and loading / unloading them (V2 repository extension).

A model is *served* once registered with :meth:`ModelRepository.update`; unloading takes it out of
service (requests then answer 404, as in KServe) but keeps it *known*, so a later load brings it
back. A ``model_factory`` builds models the server has never seen from ``<models_dir>/<name>``.

Multi-model serving (TrainedModels): a model may declare the memory it needs (:meth:`set_memory`);
with a ``memory_budget`` loading one that does not fit unloads the least recently used served models
(by request) until it does. :meth:`unavailable` says why a known model is not served, as an
:class:`Unavailable` (a CamelCase ``reason`` and a ``message``): the data plane answers requests for
it with that (404, ``reason_code``) and lists it in ``/v2/repository/index``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from zeroserve.servers.errors import ModelLoadError, ModelNotFound, ModelNotReady
from zeroserve.servers.model import Model, maybe_await

__all__ = [
    "EXCEEDS_MEMORY_BUDGET",
    "LOADING",
    "LOAD_FAILED",
    "REMOVED_FROM_MODEL_CONFIG",
    "UNLOADED",
    "UNLOADED_LEAST_RECENTLY_USED",
    "ModelFactory",
    "ModelRepository",
    "Unavailable",
]

LOADING = "Loading"
"""A model of the model config being fetched or loaded now."""
UNLOADED_LEAST_RECENTLY_USED = "UnloadedLeastRecentlyUsed"
"""Unloaded to make room for another model under the memory budget; loads again when it fits."""
EXCEEDS_MEMORY_BUDGET = "ExceedsMemoryBudget"
"""The model alone needs more than the memory budget: it never loads."""
LOAD_FAILED = "LoadFailed"
"""Fetching or loading the model failed (tried again when the model config changes)."""
REMOVED_FROM_MODEL_CONFIG = "RemovedFromModelConfig"
"""Unloaded because the model config no longer lists it (its TrainedModel was deleted)."""
UNLOADED = "Unloaded"
"""Unloaded through the repository API."""


class Unavailable(NamedTuple):
    """Why a known model is not served."""

    reason: str
    """One CamelCase word: :data:`LOADING`, :data:`UNLOADED_LEAST_RECENTLY_USED`, ..."""
    message: str
    """What happened, for people (``/v2/repository/index``'s ``reason``)."""


ModelFactory = Callable[[str, Path], Model]
"""Builds the (not yet loaded) model called ``name`` from its folder ``<models_dir>/<name>``."""

LoadObserver = Callable[[str, float], None]

_log = logging.getLogger(__name__)

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i?|k)?$")


def _memory_bytes(text: str) -> int:
    """A Kubernetes memory quantity (``256Mi``, ``1G``) in bytes; ``ValueError`` when it is not one."""
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"memory {text!r} is not a quantity (e.g. 256Mi)")
    unit = match.group(2) or ""
    power = "kKMGTPE".index(unit[0]) if unit else -1
    base = 1024 if unit.endswith("i") else 1000
    factor = 1 if not unit else base ** max(power, 1)
    return int(float(match.group(1)) * factor)


class ModelRepository:
    """The models of one server, by name.

    Args:
        models_dir: root of the model folders the repository extension loads from.
        model_factory: builds a model for ``load(name)`` when ``name`` is not known yet.
        on_load: called with ``(model_name, seconds)`` after each successful load (metrics).
        clock: monotonic clock in seconds, for load times.
        memory_budget: bytes the served models' declared memory may add up to (``None``: no limit).
    """

    def __init__(
        self,
        models_dir: Path | None = None,
        model_factory: ModelFactory | None = None,
        on_load: LoadObserver | None = None,
        clock: Callable[[], float] = time.perf_counter,
        memory_budget: int | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.memory_budget = memory_budget
        self._memory: dict[str, int] = {}
        self._uses = itertools.count()
        self._last_use: dict[str, int] = {}
        self._reasons: dict[str, Unavailable] = {}
        self._from_config: set[str] = set()
        self.model_factory = model_factory
        self.on_load = on_load
        self._clock = clock
        self._served: dict[str, Model] = {}
        self._parked: dict[str, Model] = {}
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(model_name)`` whenever a model is (re)registered or unloaded."""
        self._listeners.append(listener)

    def update(self, model: Model) -> None:
        """Serve ``model`` under its name, replacing any model of that name."""
        if not model.name:
            raise ValueError("a model needs a non-empty name")
        self._served[model.name] = model
        self._parked.pop(model.name, None)
        self._reasons.pop(model.name, None)
        self._last_use[model.name] = next(self._uses)
        for listener in self._listeners:
            listener(model.name)

    def get_model(self, name: str) -> Model | None:
        """The served model called ``name``, or ``None`` (a lookup: not a use, see :meth:`use`)."""
        return self._served.get(name)

    def use(self, name: str) -> None:
        """Count a request to model ``name`` (inference or explanation) as its most recent use, for
        LRU unloading; readiness, metadata and the controller's status reads are not uses."""
        if name in self._served:
            self._last_use[name] = next(self._uses)

    def set_memory(self, name: str, size: int) -> None:
        """Declare the bytes model ``name`` needs (a TrainedModel's ``memory``), for the budget."""
        self._memory[name] = size

    def reason(self, name: str) -> str | None:
        """Why model ``name`` is not served (the message), when the repository knows."""
        state = self.unavailable(name)
        return state.message if state is not None else None

    def unavailable(self, name: str) -> Unavailable | None:
        """Why the known model ``name`` is not served; ``None`` when it is served or unknown."""
        if name in self._served:
            return None
        state = self._reasons.get(name)
        if state is None and name in self._parked:
            return Unavailable(UNLOADED, "unloaded")
        return state

    def unavailable_models(self) -> dict[str, Unavailable]:
        """Every model that is not served and that the repository can say why of (index entries)."""
        names = [*self._parked, *(n for n in self._reasons if n not in self._parked)]
        found = {name: self.unavailable(name) for name in names}
        return {name: state for name, state in found.items() if state is not None}

    def _fits(self, name: str) -> bool:
        budget, need = self.memory_budget, self._memory.get(name, 0)
        if budget is None or need == 0:
            return True
        return sum(self._memory.get(n, 0) for n in self._served if n != name) + need <= budget

    async def _make_room(self, name: str) -> None:
        need = self._memory.get(name, 0)
        budget = self.memory_budget
        if budget is None or need == 0:
            return
        if need > budget:
            message = f"needs {need} bytes, more than the memory budget of {budget} bytes"
            self._reasons[name] = Unavailable(EXCEEDS_MEMORY_BUDGET, message)
            raise ModelLoadError(f"Model {name} {message}")
        while not self._fits(name):
            victims = [n for n in self._served if n != name and self._memory.get(n, 0) > 0]
            victim = min(victims, key=lambda n: self._last_use.get(n, -1))
            await self.unload(victim)
            self._reasons[victim] = Unavailable(
                UNLOADED_LEAST_RECENTLY_USED,
                f"unloaded as least recently used: loading {name} ({need} bytes) exceeded the memory "
                f"budget of {budget} bytes; it loads again when the served models leave room for it",
            )
            _log.info(
                "model %s unloaded to make room for %s",
                victim,
                name,
                extra={"model": victim, "reason": UNLOADED_LEAST_RECENTLY_USED},
            )

    def get_models(self) -> list[Model]:
        """Every served model."""
        return list(self._served.values())

    def known_models(self) -> Iterable[tuple[Model, bool]]:
        """Every known model with whether it is served (for ``/v2/repository/index``)."""
        for model in self._served.values():
            yield model, True
        for model in self._parked.values():
            yield model, False

    async def load_model(self, model: Model) -> None:
        """Load ``model`` (if not ready), timing it, and serve it.

        Raises:
            ModelLoadError: when ``load()`` raises or leaves the model not ready.
        """
        await self._make_room(model.name)
        if not model.ready:
            started = self._clock()
            try:
                await maybe_await(model.load())
            except Exception as exc:
                _log.exception("loading model %s failed", model.name)
                raise ModelLoadError(
                    f"Model {model.name} failed to load: {type(exc).__name__}: {exc}"
                ) from exc
            elapsed = self._clock() - started
            if not model.ready:
                raise ModelLoadError(f"Model {model.name} is not ready after load()")
            _log.info("model %s loaded in %.3fs", model.name, elapsed)
            if self.on_load is not None:
                self.on_load(model.name, elapsed)
        self.update(model)
        model.start()

    async def load(self, name: str) -> Model:
        """Load the model ``name`` (repository extension): a known one again, or a new one.

        Returns:
            The loaded, served model.

        Raises:
            ModelNotFound: when ``name`` is unknown and no factory or folder can build it.
            ModelLoadError: when loading fails.
        """
        model = self._served.get(name) or self._parked.get(name)
        if model is None:
            model = self._build(name)
        elif name in self._parked:
            model.ready = False
        await self.load_model(model)
        return model

    async def unload(self, name: str) -> None:
        """Stop serving the model ``name`` (it stays known, so it can be loaded again).

        Raises:
            ModelNotFound: when no served model has that name.
        """
        model = self._served.pop(name, None)
        if model is None:
            raise ModelNotFound(name)
        model.ready = False
        self._parked[name] = model
        try:
            model.stop()
        finally:
            for listener in self._listeners:
                listener(name)

    async def sync_model_config(
        self, entries: list[dict[str, Any]], fetch: Callable[[str, Path], object]
    ) -> dict[str, str]:
        """Serve exactly the models of a KServe model config (``modelconfig-<isvc>-0``'s ``models.json``).

        Each entry ``{modelName, modelSpec: {storageUri, framework, memory}}`` not served yet is
        fetched into ``<models_dir>/<modelName>``, its memory declared, and loaded (which may unload
        least recently used models, see :meth:`set_memory`); served models the config no longer lists
        are unloaded (models that were not loaded from a config are left alone). A model the LRU
        unloaded is loaded again only when it fits beside the served ones without unloading another
        (so a config change never starts a round of unloads), which is tried first.

        Args:
            entries: the parsed ``models.json``.
            fetch: ``fetch(storage_uri, folder)`` downloads a model (the storage module's download).

        Returns:
            model name -> what happened (``loaded``, ``unloaded``, or the error), for the log.
        """
        if self.models_dir is None:
            raise ValueError("a model config needs models_dir")
        outcome: dict[str, str] = {}
        wanted: dict[str, dict[str, Any]] = {}
        for entry in entries:
            name = str(entry.get("modelName") or "")
            if name:
                wanted[name] = dict(entry.get("modelSpec") or {})
        for name in sorted(self._from_config - set(wanted)):
            if name in self._served:
                await self.unload(name)
                outcome[name] = "unloaded"
            if name in self._parked:
                message = "unloaded: no longer in the model config"
                self._reasons[name] = Unavailable(REMOVED_FROM_MODEL_CONFIG, message)
            else:  # it never loaded: forget it
                self._reasons.pop(name, None)
            self._from_config.discard(name)

        def lru_unloaded(name: str) -> bool:
            state = self._reasons.get(name)
            return state is not None and state.reason == UNLOADED_LEAST_RECENTLY_USED

        for name in wanted:
            if name not in self._served and lru_unloaded(name) and self._fits(name):
                outcome[name] = await self._load_entry(name, wanted[name], fetch)
        for name, spec in wanted.items():
            if name not in self._served and not lru_unloaded(name):
                outcome[name] = await self._load_entry(name, spec, fetch)
        return outcome

    async def _load_entry(self, name: str, spec: dict[str, Any], fetch: Callable[[str, Path], object]) -> str:
        assert self.models_dir is not None
        self._from_config.add(name)
        uri = str(spec.get("storageUri") or "")
        self._reasons[name] = Unavailable(LOADING, f"loading from {uri}")
        try:
            self.set_memory(name, _memory_bytes(str(spec.get("memory") or "0")))
            folder = self.models_dir / name
            if not folder.is_dir():
                await asyncio.to_thread(fetch, uri, folder)
            await self.load(name)
        except Exception as exc:  # one bad model never stops the others
            state = self._reasons.get(name)
            if state is None or state.reason == LOADING:
                self._reasons[name] = Unavailable(LOAD_FAILED, f"load failed: {exc}")
            _log.warning("model %s from the model config did not load: %s", name, exc, extra={"model": name})
            return str(exc)
        return "loaded"

    async def watch_model_config(
        self, path: Path, fetch: Callable[[str, Path], object], interval: float = 1.0
    ) -> None:
        """Keep the served models equal to the model config file ``path`` (KServe's agent, in-process).

        Reads the file every ``interval`` seconds (a mounted ConfigMap changes in place) and applies it
        with :meth:`sync_model_config` when its text changed; a missing or malformed file is logged and
        changes nothing. Runs until cancelled.

        Args:
            path: the ``models.json`` file (``modelconfig-<isvc>-0`` mounted at ``/mnt/configs``).
            fetch: downloads a model, ``fetch(storage_uri, folder)``.
            interval: seconds between reads.
        """
        last: str | None = None
        while True:
            try:
                text = await asyncio.to_thread(path.read_text)
            except OSError:
                text = None
            if text is not None and text != last:
                last = text
                try:
                    entries = json.loads(text or "[]")
                    if not isinstance(entries, list):
                        raise ValueError("the model config must be a JSON list")
                except ValueError as exc:
                    _log.error("model config %s is not valid: %s", path, exc)
                else:
                    outcome = await self.sync_model_config(entries, fetch)
                    if outcome:
                        _log.info("model config applied: %s", outcome)
            await asyncio.sleep(interval)

    def _build(self, name: str) -> Model:
        if self.model_factory is None or self.models_dir is None:
            raise ModelNotFound(name)
        folder = self.models_dir / name
        if not folder.is_dir():
            raise ModelNotFound(name)
        try:
            return self.model_factory(name, folder)
        except ModelNotFound:
            raise
        except Exception as exc:
            raise ModelNotReady(name, f"Building it from {folder} failed: {exc}") from exc
