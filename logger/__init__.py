"""Payload logging: the CloudEvents emitter, the in-process middleware and the sidecar proxy.

Import the concrete modules (``zeroserve.logger.middleware``, ``zeroserve.logger.config`` ...);
this package imports nothing so that ``import zeroserve`` stays light. The detectors that consume
the events are :mod:`zeroserve.monitoring`.
"""
