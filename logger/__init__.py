"""Model monitoring: the payload logger (CloudEvents emitter, in-process middleware and sidecar proxy)
and the drift / outlier detector services that consume its events.

Import the concrete modules (``zeroserve.logger.middleware``, ``zeroserve.logger.config`` ...);
this package imports nothing so that ``import zeroserve`` stays light.
"""
