"""The set of models a server holds, and loading / unloading them (V2 repository extension).

A model is *served* once registered with :meth:`ModelRepository.update`; unloading takes it out of
service (requests then answer 404, as in KServe) but keeps it *known*, so a later load brings it
back. A ``model_factory`` builds models the server has never seen from ``<models_dir>/<name>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from zeroserve.servers.errors import ModelLoadError, ModelNotFound, ModelNotReady
from zeroserve.servers.model import Model, maybe_await

__all__ = ["ModelFactory", "ModelRepository"]

ModelFactory = Callable[[str, Path], Model]
"""Builds the (not yet loaded) model called ``name`` from its folder ``<models_dir>/<name>``."""

LoadObserver = Callable[[str, float], None]

_log = logging.getLogger(__name__)


class ModelRepository:
    """The models of one server, by name.

    Args:
        models_dir: root of the model folders the repository extension loads from.
        model_factory: builds a model for ``load(name)`` when ``name`` is not known yet.
        on_load: called with ``(model_name, seconds)`` after each successful load (metrics).
        clock: monotonic clock in seconds, for load times.
    """

    def __init__(
        self,
        models_dir: Path | None = None,
        model_factory: ModelFactory | None = None,
        on_load: LoadObserver | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.models_dir = models_dir
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
        for listener in self._listeners:
            listener(model.name)

    def get_model(self, name: str) -> Model | None:
        """The served model called ``name``, or ``None``."""
        return self._served.get(name)

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
