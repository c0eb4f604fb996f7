"""Errors of the runtimes while loading a model; each names the folder or file it is about.

They derive from the server's :class:`~zeroserve.servers.errors.ModelLoadError`, so a failed load
answers 503 like any other load failure.
"""

from __future__ import annotations

from zeroserve.servers.errors import ModelLoadError

__all__ = [
    "AmbiguousModelError",
    "CustomModelError",
    "DeviceUnavailableError",
    "ModelFormatError",
    "ModelMissingError",
    "RuntimeOptionsError",
    "UnknownRuntimeError",
]


class ModelMissingError(ModelLoadError):
    """The model folder holds no file the runtime can load (KServe's ``ModelMissingError``)."""


class AmbiguousModelError(ModelLoadError):
    """The model folder holds more than one candidate file; the runtime will not guess."""


class ModelFormatError(ModelLoadError):
    """The model file exists but is not in the runtime's format (or not a model at all)."""


class DeviceUnavailableError(ModelLoadError):
    """The requested device (e.g. ``cuda:1``) is not available on this machine."""


class CustomModelError(ModelLoadError):
    """A custom model class could not be found, imported or constructed."""


class RuntimeOptionsError(ModelLoadError):
    """A runtime option has a bad value (the message names the option)."""


class UnknownRuntimeError(LookupError):
    """No runtime is registered under the requested name."""
