"""SeldonDeployment status, as Seldon's operator writes it, from its Knative Services.

``state`` is ``Available`` when every component and orchestrator Knative Service is Ready, ``Failed``
when one failed (``description`` is that one readable line), else ``Creating``. ``deploymentStatus``
has one entry per Knative Service (``replicas`` / ``availableReplicas`` from its ready instances),
``address.url`` is the deployment's external predictions URL, and the conditions are
``DeploymentsReady``, ``ServicesReady`` and ``Ready`` (knative-style, with transition times).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from zeroserve.apis.conditions import ConditionSet
from zeroserve.apis.seldon.types import DeploymentStatus, SeldonAddress, SeldonDeploymentStatus

__all__ = [
    "AVAILABLE",
    "CONDITIONS",
    "CREATING",
    "DEPLOYMENTS_READY",
    "FAILED",
    "SERVICES_READY",
    "deployment_status",
]

AVAILABLE = "Available"
CREATING = "Creating"
FAILED = "Failed"
DEPLOYMENTS_READY = "DeploymentsReady"
SERVICES_READY = "ServicesReady"
CONDITIONS = ConditionSet.living(DEPLOYMENTS_READY, SERVICES_READY)


def _ready(ksvc: Mapping[str, Any] | None) -> tuple[str, str]:
    for condition in ((ksvc or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status", "Unknown")), str(
                condition.get("message") or condition.get("reason") or ""
            )
    return "Unknown", "not created yet" if ksvc is None else "not ready yet"


def deployment_status(
    services: Mapping[str, Mapping[str, Any] | None],
    url: str | None,
    replicas: Mapping[str, int],
    now: Callable[[], datetime] | None = None,
    previous: SeldonDeploymentStatus | None = None,
) -> SeldonDeploymentStatus:
    """The deployment's status from its Knative Services.

    Args:
        services: Knative Service name -> the applied Service (``None`` when not created).
        url: the deployment's external predictions URL.
        replicas: Knative Service name -> ready instances (``status.actualReplicas`` when known).
        now: the clock for transition times.
        previous: the stored status, whose conditions keep their transition times.

    Returns:
        The new status.
    """
    status = SeldonDeploymentStatus(conditions=list(previous.conditions or []) if previous else None)
    manager = CONDITIONS.manage(status, now)
    manager.initialize()
    entries: dict[str, DeploymentStatus] = {}
    failed: list[str] = []
    waiting: list[str] = []
    for name, ksvc in services.items():
        state, message = _ready(ksvc)
        count = replicas.get(name, 0)
        entries[name] = DeploymentStatus(
            name=name,
            status={"True": AVAILABLE, "False": FAILED}.get(state, CREATING),
            description=message or None,
            replicas=count,
            available_replicas=count if state == "True" else 0,
        )
        if state == "False":
            failed.append(f"{name}: {message}" if message else name)
        elif state != "True":
            waiting.append(name)
    status.deployment_status = entries
    status.replicas = sum(replicas.values())
    if failed:
        status.state = FAILED
        status.description = "; ".join(failed)
        manager.mark_false(DEPLOYMENTS_READY, "ServiceFailed", status.description)
    elif waiting:
        status.state = CREATING
        manager.mark_unknown(DEPLOYMENTS_READY, "ServicesNotReady", "waiting for: " + ", ".join(waiting))
    else:
        status.state = AVAILABLE
        manager.mark_true(DEPLOYMENTS_READY)
    if url:
        status.address = SeldonAddress(url=url)
        manager.mark_true(SERVICES_READY)
    else:
        manager.mark_unknown(SERVICES_READY, "RouteNotReady", "the deployment's route is being created")
    return status
