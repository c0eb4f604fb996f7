"""The InferenceService / InferenceGraph controller: KServe's YAML in, Knative Services out.

Layers, each usable alone:

- :mod:`.resources`: pure builders (InferenceService -> Knative Services + HTTPRoute; InferenceGraph ->
  router Knative Service), golden-file tested;
- :mod:`.reconcilers`: the reconcile logic over a small :class:`~.store.Store` interface;
- :mod:`.controller`: the operator loop (watches, work queue, workers, leader election);
- :mod:`.kube`: the store over the ``kubernetes`` client (the only module that imports it);
- :mod:`.cli`: ``zeroserve controller``; :mod:`.component`: the embedded platform's component.

Start it in-process::

    from zeroserve.controller import Controller, ControllerConfig, ControllerOptions
    from zeroserve.controller.kube import KubeStore

    controller = Controller(KubeStore.from_kubeconfig(path), ControllerConfig(domain="example.com"))
    threading.Thread(target=controller.run, args=(stop_event,)).start()
"""

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.controller import Controller, ControllerOptions

__all__ = ["Controller", "ControllerConfig", "ControllerOptions"]
