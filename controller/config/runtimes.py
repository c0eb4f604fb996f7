"""The runtime table: model format + protocol -> serving container (image, args, ports, resources).

The table is data (``runtimes.yaml`` next to this module, replaceable through the ConfigMap
``inferenceservice-config``); this module parses it and answers "which container serves this model".
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Runtime", "RuntimeTable", "default_runtime_table", "render_template"]


def render_template(text: str, values: dict[str, str]) -> str:
    """Fill KServe-style placeholders (``{{.Name}}``) in a runtime's image or argument.

    Args:
        text: the template.
        values: placeholder name -> value, e.g. ``{"Name": "iris"}``.

    Returns:
        The text with each ``{{.Key}}`` replaced; unknown placeholders stay as written.
    """
    for key, value in values.items():
        text = text.replace("{{." + key + "}}", value)
    return text


class Runtime(BaseModel):
    """One serving runtime (a ClusterServingRuntime reduced to what the controller uses)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: str
    """Referenced by ``spec.predictor.model.runtime``."""
    aliases: list[str] = Field(default_factory=list)
    """Other names ``model.runtime`` may use, e.g. KServe's ``kserve-sklearnserver``, so KServe YAML
    that names its ClusterServingRuntime runs unchanged."""
    model_formats: list[str] = Field(alias="modelFormats")
    """Model format names served (``modelFormat.name``), compared case-insensitively."""
    protocols: list[str] = Field(default_factory=lambda: ["v1"])
    """Protocol versions served (``v1``, ``v2``, ``grpc-v1``, ``grpc-v2``)."""
    priority: int = 0
    """Among runtimes that fit, the highest priority wins (ties: first in the table)."""
    image: str
    args: list[str] = Field(default_factory=list)
    env: list[dict[str, Any]] = Field(default_factory=list)
    resources: dict[str, Any] = Field(default_factory=dict)
    """Default ``resources`` of the container, used when the InferenceService gives none."""

    def supports(self, model_format: str, protocol: str) -> bool:
        """Whether this runtime serves ``model_format`` over ``protocol``."""
        formats = {f.lower() for f in self.model_formats}
        return model_format.lower() in formats and protocol in self.protocols


class RuntimeTable(BaseModel):
    """The whole table plus the container ports used for each protocol."""

    model_config = ConfigDict(extra="forbid")

    runtimes: list[Runtime]
    ports: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """protocol -> container ``ports``; Knative sends traffic to the first one."""

    @classmethod
    def from_yaml(cls, text: str) -> RuntimeTable:
        """Parse the YAML form (see ``runtimes.yaml``).

        Args:
            text: the YAML document.

        Returns:
            The table; raises ``pydantic.ValidationError`` on a malformed one.
        """
        return cls.model_validate(yaml.safe_load(text) or {})

    def select(self, model_format: str, protocol: str, runtime_name: str | None = None) -> Runtime | None:
        """Choose the runtime for a model.

        Args:
            model_format: ``modelFormat.name``.
            protocol: ``protocolVersion``.
            runtime_name: ``model.runtime`` when the user named one.

        Returns:
            The runtime, or ``None`` when none fits (a named runtime must exist *and* support the
            format and protocol, as KServe checks).
        """
        if runtime_name:
            for runtime in self.runtimes:
                if runtime_name == runtime.name or runtime_name in runtime.aliases:
                    return runtime if runtime.supports(model_format, protocol) else None
            return None
        fitting = [r for r in self.runtimes if r.supports(model_format, protocol)]
        if not fitting:
            return None
        return max(fitting, key=lambda r: r.priority)

    def ports_for(self, protocol: str) -> list[dict[str, Any]]:
        """The container ports for ``protocol`` (HTTP 8080 when the table names none)."""
        return [dict(p) for p in self.ports.get(protocol, [{"name": "http1", "containerPort": 8080}])]


def default_runtime_table() -> RuntimeTable:
    """The table shipped with the package (``zeroserve/controller/config/runtimes.yaml``)."""
    text = resources.files(__package__ or "zeroserve.controller.config").joinpath("runtimes.yaml").read_text()
    return RuntimeTable.from_yaml(text)
