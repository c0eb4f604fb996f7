"""KServe's choice of a serving runtime for a model, as a pure function.

Rules (KServe's ``GetSupportingRuntimes`` and the predictor reconciler):

- ``model.runtime`` set: the namespace's ServingRuntime of that name, else the ClusterServingRuntime
  of that name; it must not be ``disabled``, must serve the protocol and list the model format (name,
  and version when the model gives one; ``autoSelect`` is not needed when named), and must not be
  multi-model for an InferenceService (nor single-model for a TrainedModel).
- Otherwise: every runtime that is not disabled, has the right ``multiModel``, serves the protocol
  and lists the format with ``autoSelect: true``. Namespace ServingRuntimes come first, then
  ClusterServingRuntimes; within each scope the highest ``priority`` of the matching format wins,
  ties go to the newest runtime, then to the name in order. The first is chosen.

A model's format version matches a runtime's when their major versions (text up to the first dot)
are equal; a model with no version matches any.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroserve.apis.serving.v1alpha1.serving_runtime import ServingRuntimeSpec, SupportedModelFormat

__all__ = ["NO_SUPPORTING_RUNTIME", "RuntimeCandidate", "SelectionError", "select_runtime"]

NO_SUPPORTING_RUNTIME = "NoSupportingRuntime"
"""KServe's reason when no runtime serves a model."""
RUNTIME_DISABLED = "RuntimeDisabled"
"""KServe's reason when the named runtime is disabled."""
RUNTIME_NOT_RECOGNIZED = "RuntimeNotRecognized"
"""KServe's reason when the named runtime does not exist."""


@dataclass(frozen=True)
class RuntimeCandidate:
    """One runtime the model may be served by."""

    kind: str
    """``ServingRuntime`` or ``ClusterServingRuntime``."""
    name: str
    spec: ServingRuntimeSpec
    created: str = ""
    """``metadata.creationTimestamp`` (RFC 3339 sorts as text); newer wins a priority tie."""


class SelectionError(Exception):
    """No runtime fits; ``reason`` is KServe's, ``message`` says what would work.

    Args:
        reason: ``NoSupportingRuntime``, ``RuntimeDisabled`` or ``RuntimeNotRecognized``.
        message: names the field and the runtimes' formats and protocols.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _major(version: str) -> str:
    return version.strip().lstrip("vV").split(".", 1)[0]


def _format_matches(fmt: SupportedModelFormat, name: str, version: str | None) -> bool:
    if fmt.name.lower() != name.lower():
        return False
    if not version:
        return True
    return fmt.version is not None and _major(fmt.version) == _major(version)


def _matching_format(
    spec: ServingRuntimeSpec, name: str, version: str | None, auto: bool
) -> SupportedModelFormat | None:
    for fmt in spec.supported_model_formats or []:
        if auto and not fmt.auto_select:
            continue
        if _format_matches(fmt, name, version):
            return fmt
    return None


def _describe(candidates: list[RuntimeCandidate]) -> str:
    parts = []
    for c in candidates:
        if c.spec.disabled:
            continue
        formats = ",".join(
            f.name + (f":{f.version}" if f.version else "") + ("" if f.auto_select else "(by name)")
            for f in c.spec.supported_model_formats or []
        )
        mms = " multiModel" if c.spec.multi_model else ""
        parts.append(f"{c.name} [{formats or 'no formats'}; {'/'.join(c.spec.protocols())}{mms}]")
    return "; ".join(parts) or "none"


def _wanted(name: str, version: str | None, protocol: str) -> str:
    version_text = f" version {version!r}" if version else ""
    return f"model format {name!r}{version_text}, protocol {protocol!r}"


def select_runtime(
    *,
    model_format: str,
    model_version: str | None,
    protocol: str,
    runtime_name: str | None,
    namespace_runtimes: list[RuntimeCandidate],
    cluster_runtimes: list[RuntimeCandidate],
    multi_model: bool = False,
    field: str = "spec.predictor.model",
) -> RuntimeCandidate:
    """Choose the runtime for a model as KServe does (see the module docstring).

    Args:
        model_format: ``modelFormat.name``.
        model_version: ``modelFormat.version`` (``None``: any).
        protocol: ``protocolVersion`` (defaulted).
        runtime_name: ``model.runtime`` when the user named one.
        namespace_runtimes: the model's namespace's ServingRuntimes.
        cluster_runtimes: the ClusterServingRuntimes.
        multi_model: choosing for a TrainedModel's predictor (multi-model runtimes only).
        field: the field path the messages name.

    Returns:
        The chosen runtime.

    Raises:
        SelectionError: none fits; the message lists what the runtimes support.
    """
    everything = namespace_runtimes + cluster_runtimes
    wanted = _wanted(model_format, model_version, protocol)
    if runtime_name:
        named = next((c for c in namespace_runtimes if c.name == runtime_name), None) or next(
            (c for c in cluster_runtimes if c.name == runtime_name), None
        )
        if named is None:
            raise SelectionError(
                RUNTIME_NOT_RECOGNIZED,
                f"{field}.runtime: no ServingRuntime or ClusterServingRuntime named {runtime_name!r}; "
                f"runtimes: {_describe(everything)}",
            )
        spec = named.spec
        problem = ""
        if spec.disabled:
            raise SelectionError(RUNTIME_DISABLED, f"{field}.runtime: runtime {runtime_name!r} is disabled")
        if bool(spec.multi_model) != multi_model:
            problem = (
                "is a multi-model runtime (for TrainedModels only)"
                if spec.multi_model
                else "is not a multi-model runtime"
            )
        elif protocol not in spec.protocols():
            problem = f"does not support protocol {protocol!r} (it serves {'/'.join(spec.protocols())})"
        elif _matching_format(spec, model_format, model_version, auto=False) is None:
            problem = f"does not support {wanted.rsplit(',', 1)[0]} (it serves {_describe([named])})"
        if problem:
            message = f"{field}.runtime: runtime {runtime_name!r} {problem}"
            raise SelectionError(NO_SUPPORTING_RUNTIME, message)
        return named

    def fitting(scope: list[RuntimeCandidate]) -> list[RuntimeCandidate]:
        found: list[tuple[int, RuntimeCandidate]] = []
        for c in scope:
            spec = c.spec
            if spec.disabled or bool(spec.multi_model) != multi_model or protocol not in spec.protocols():
                continue
            fmt = _matching_format(spec, model_format, model_version, auto=True)
            if fmt is not None:
                found.append((fmt.priority or 0, c))
        # highest priority, then newest, then name: sort by name, then stable sorts on the rest
        found.sort(key=lambda pc: pc[1].name)
        found.sort(key=lambda pc: pc[1].created, reverse=True)
        found.sort(key=lambda pc: pc[0], reverse=True)
        return [c for _, c in found]

    chosen = fitting(namespace_runtimes) + fitting(cluster_runtimes)
    if not chosen:
        kind = "multi-model runtime" if multi_model else "runtime"
        raise SelectionError(
            NO_SUPPORTING_RUNTIME,
            f"{field}: no {kind} supports {wanted} (modelFormat / protocolVersion, or name one in "
            f"runtime); runtimes: {_describe(everything)}",
        )
    return chosen[0]
