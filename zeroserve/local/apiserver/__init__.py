"""The embedded Kubernetes-compatible API server.

Serves built-in kinds and CRD-defined kinds with discovery, OpenAPI v3, structural-schema validation,
tables, watches, optimistic concurrency, finalizers and garbage collection, persisted in SQLite.

Embedding::

    async with ApiServer(ApiServerSettings(port=0, state_dir=tmp), crds=all_crds()) as server:
        write_kubeconfig(tmp / "kubeconfig", server.url, server.token)

    with run_in_thread(ApiServerSettings(port=0, in_memory=True)) as server:  # synchronous callers
        ...
"""

from zeroserve.local.apiserver.app import create_app
from zeroserve.local.apiserver.server import ApiServer, run_in_thread
from zeroserve.local.apiserver.settings import ApiServerSettings, default_state_dir

__all__ = ["ApiServer", "ApiServerSettings", "create_app", "default_state_dir", "run_in_thread"]
