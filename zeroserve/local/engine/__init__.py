"""The local serving engine: Knative Serving semantics on one machine.

- :mod:`.component` — :class:`~.component.EngineComponent`, the platform component ``zeroserve up`` starts.
- :mod:`.reconciler` / :mod:`.resources` / :mod:`.status` — Services -> Configurations + Routes ->
  Revisions, statuses, HTTPRoutes, through the API server (``kubernetes`` client), on the
  ``zeroserve.apis`` types with their lifecycle helpers.
- :mod:`.engine` — running revisions and the gateway's server, independent of the API server.
- :mod:`.revision` / :mod:`.spec` / :mod:`.preparation` — one revision's instances, scaling loop and
  conditions; its model folder (storage layer, init containers) and launch plans.
- :mod:`.instances` / :mod:`.zygote` / :mod:`.images` / :mod:`.gpus` / :mod:`.processctl` — instances as
  local processes, forked from a pre-warmed interpreter; image -> command table; GPU assignment.
- :mod:`.limits` / :mod:`.cgroups` / :mod:`.cputhrottle` — ``resources.limits`` of process instances:
  memory watched, CPU held by a cgroup per instance (else a SIGSTOP/SIGCONT throttle).
- :mod:`.containers` / :mod:`.bridge` / :mod:`.volumes` — other images as podman/docker containers, the
  gateway's listener on their bridge network (their way to the platform), ConfigMap/Secret/emptyDir
  volumes as folders (rewritten paths for processes, bind mounts for containers).
- :mod:`.gateway` / :mod:`.relay` / :mod:`.routing` / :mod:`.upstream` / :mod:`.activator` /
  :mod:`.egress` — Host and path routing, traffic splits, bodies relayed both ways under the size
  limit with the ``zeroserve-revision`` response header, pooled upstream
  connections, the activator that holds requests while a revision scales from zero, and who may use
  the gateway as a proxy to outside hosts.
- :mod:`.autoscaler` / :mod:`.concurrency` / :mod:`.procstat` — the KPA (and HPA-class) decision as a pure
  function and what it observes.
- :mod:`.metrics` / :mod:`.logs` / :mod:`.settings` / :mod:`.statefiles` — Prometheus metrics, instance
  logs, settings (``ZEROSERVE_ENGINE_*``), private files under the state folder.
"""
