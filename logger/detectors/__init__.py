"""Drift and outlier detectors fed by payload-logging CloudEvents (``zeroserve detector drift|outlier``).

:mod:`.payload` reads instances out of V1 / V2 request bodies, :mod:`.reference` loads the
reference data, :mod:`.drift` and :mod:`.outlier` are the pure statistical methods, and
:mod:`.server` is the ASGI service that answers with KServe-shaped result CloudEvents.
"""
