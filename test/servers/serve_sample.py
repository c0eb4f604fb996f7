"""Serve one sample model with ``ModelServer().start`` (settings from ``PORT`` / ``ZEROSERVE_*``).

Usage: ``python serve_sample.py sum|slow|pid`` (``SLOW_DELAY`` and ``SLOW_MARKER`` tune ``slow``).
"""

from __future__ import annotations

import os
import sys

from sample_models import PidModel, SlowModel, SumModel

from zeroserve.servers import Model, ModelServer


def main(argv: list[str]) -> int:
    kind = argv[0]
    models: dict[str, Model] = {
        "sum": SumModel("sum"),
        "slow": SlowModel("slow", float(os.environ.get("SLOW_DELAY", "1")), os.environ.get("SLOW_MARKER")),
        "pid": PidModel("pid"),
    }
    ModelServer().start([models[kind]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
