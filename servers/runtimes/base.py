"""The base of runtimes that load one model file from a model folder (sklearn, XGBoost, PyTorch).

A runtime is constructed cheaply (no framework import, no I/O); :meth:`FileModel.load` resolves the
folder (a local path or any ``storageUri``, as KServe's ``--model_dir`` may be), finds the single
model file and hands it to the subclass. Options are a pydantic-settings class per runtime, so they
come from CLI flags, keyword arguments or the environment alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import ModelFormatError, RuntimeOptionsError
from zeroserve.servers.runtimes.files import find_model_file
from zeroserve.servers.storage import ModelStorage

__all__ = ["FileModel", "parse_options"]

OptionsT = TypeVar("OptionsT", bound=BaseSettings)


def parse_options(options_class: type[OptionsT], runtime: str, options: Mapping[str, Any]) -> OptionsT:
    """Validate runtime options (unset ones come from the environment, then the defaults).

    Args:
        options_class: the runtime's options class.
        runtime: the runtime's name, for the error message.
        options: option name -> value, e.g. ``{"predict_proba": "true"}``.

    Returns:
        The validated options.

    Raises:
        RuntimeOptionsError: an option is unknown or has a bad value.
    """
    known = set(options_class.model_fields)
    unknown = sorted(set(options) - known)
    if unknown:
        raise RuntimeOptionsError(
            f"{runtime}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
        )
    try:
        return options_class(**options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RuntimeOptionsError(f"{runtime}: bad option value: {problems}") from None


class FileModel(Model):
    """A model served from one file of the runtime's format.

    Args:
        name: the model's name.
        model_dir: local folder (or file), or a storage URI resolved at load time.
        options: the runtime's options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI; built from the environment when omitted.
    """

    runtime: ClassVar[str] = ""
    """The runtime's registry name, used in messages."""
    patterns: ClassVar[tuple[str, ...]] = ()
    """Glob patterns of the model file, e.g. ``("*.joblib", "*.pkl")``."""
    options_class: ClassVar[type[BaseSettings]] = BaseSettings
    """The runtime's options (pydantic-settings, with the runtime's own environment prefix)."""
    batchable: ClassVar[bool] = True
    """Whether ``predict`` takes any number of rows and answers one row per row, so that concurrent
    requests may be joined into one call (adaptive batching, ``zeroserve.servers.batching``)."""

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: BaseSettings | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.options = options if options is not None else self.options_class()
        self._storage = storage
        self.model_file: Path | None = None
        """The file that was loaded, once :meth:`load` ran."""

    @classmethod
    def from_options(
        cls,
        name: str,
        model_dir: Path | str | None,
        options: Mapping[str, Any],
        storage: ModelStorage | None = None,
    ) -> Self:
        """Build the runtime from untyped options (the CLI's and the registry's entry point).

        Args:
            name: the model's name.
            model_dir: the model folder or storage URI.
            options: runtime option name -> value.
            storage: resolves URIs.

        Returns:
            The (not yet loaded) model.

        Raises:
            ModelFormatError: no model folder was given.
            RuntimeOptionsError: an option is unknown or has a bad value.
        """
        if model_dir is None:
            needed = "a model folder (--model-dir or --storage-uri) is required"
            raise ModelFormatError(f"{cls.runtime}: {needed}")
        return cls(name, model_dir, parse_options(cls.options_class, cls.runtime, options), storage=storage)

    def local_model_dir(self) -> Path:
        """:attr:`model_dir` as a local path (a storage URI is fetched or found in the cache first)."""
        where = self.model_dir
        if isinstance(where, str) and "://" in where:
            storage = self._storage if self._storage is not None else ModelStorage()
            return storage.resolve(where)
        return Path(where)

    def resolve_model_file(self) -> Path:
        """Resolve :attr:`model_dir` to a local path and find the single model file in it.

        Returns:
            The model file.
        """
        return find_model_file(self.local_model_dir(), self.patterns, self.runtime)

    def load(self) -> bool:
        """Find and load the model file; mark the model ready.

        Returns:
            ``True``.
        """
        path = self.resolve_model_file()
        self.load_file(path)
        self.model_file = path
        self.ready = True
        return self.ready

    def load_file(self, path: Path) -> None:
        """Load the framework model from ``path`` (implemented by each runtime)."""
        raise NotImplementedError
