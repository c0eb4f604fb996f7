"""The local serving engine: Knative Serving semantics on one machine.

Revisions run as local processes (:mod:`.instances`, :mod:`.zygote`), the gateway routes by Host and
path prefix (:mod:`.gateway`), the activator holds requests while a revision scales from zero
(:mod:`.activator`), the KPA autoscaler decides instance counts (:mod:`.autoscaler`), and the
reconciler keeps Services, Configurations, Revisions, Routes and HTTPRoutes true through the API
server (:mod:`.reconciler`). :class:`EngineComponent` (in :mod:`.component`) starts it all.
"""
