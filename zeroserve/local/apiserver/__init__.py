"""The embedded Kubernetes-compatible API server.

Serves built-in kinds and CRD-defined kinds with discovery, OpenAPI v3, structural-schema pruning and
validation (``fieldValidation`` Strict / Warn / Ignore), the admission webhooks of KServe's and
Knative's kinds (:mod:`zeroserve.apis.admission`), tables, watches, optimistic concurrency, finalizers
and garbage collection, ServiceAccount tokens (TokenRequest, TokenReview) and Kubernetes' request
limits, persisted in SQLite under an owner-only state folder.

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
