"""A running API server (in a background thread) with the project's CRDs, kubectl and a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import pytest

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver import ApiServer, ApiServerSettings, run_in_thread
from zeroserve.local.kubeconfig import write_kubeconfig
from zeroserve.local.testing import Kubectl


@dataclass
class Cluster:
    """One API server and the clients pointed at it."""

    server: ApiServer
    kubeconfig: Path
    kubectl: Kubectl

    def api_client(self) -> kubernetes.client.ApiClient:
        """Returns: a ``kubernetes`` client configured from the kubeconfig."""
        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """An API server with zeroserve's CRDs, persisted under a temporary state folder."""
    state = tmp_path_factory.mktemp("apiserver-state")
    with run_in_thread(ApiServerSettings(port=0, state_dir=state), crds=all_crds()) as server:
        kubeconfig = write_kubeconfig(state / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)
        yield Cluster(server, kubeconfig, Kubectl(kubeconfig, tmp_path_factory.mktemp("kubectl-cache")))


@pytest.fixture
def client(cluster: Cluster) -> Iterator[kubernetes.client.ApiClient]:
    """A ``kubernetes`` API client for the shared server."""
    api = cluster.api_client()
    try:
        yield api
    finally:
        api.close()
