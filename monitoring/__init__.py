"""Drift and outlier detectors fed by payload-logging CloudEvents (``zeroserve detector drift|outlier``).

:mod:`.payload` reads instances out of V1 / V2 request bodies, :mod:`.reference` loads the
reference data; :mod:`.drift` (per-feature KS), :mod:`.mmd` and :mod:`.outlier` are the
statistical methods; :mod:`.server` is the ASGI service that answers with KServe-shaped result
CloudEvents, :mod:`.sender` posts them to a sink and :mod:`.cli` is the command.
"""
