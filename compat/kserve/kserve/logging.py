"""``kserve.logging``: KServe's ``logger`` and ``configure_logging``.

``logger`` is the ``kserve`` logger; its records reach zeroserve's handler (one JSON line each, with
the request id) once the server or :func:`configure_logging` has installed it. A ``log_config``
(a dict, or a ``.json`` / ``.yaml`` file path, as KServe's ``--log_config_file``) is applied with
:func:`logging.config.dictConfig` instead.
"""

from __future__ import annotations

import json
import logging
import logging.config
from pathlib import Path
from typing import Any

from zeroserve.process.logs import configure_logging as _install

__all__ = ["KSERVE_LOGGER_NAME", "KSERVE_TRACE_LOGGER_NAME", "configure_logging", "logger", "trace_logger"]

KSERVE_LOGGER_NAME = "kserve"
KSERVE_TRACE_LOGGER_NAME = "kserve.trace"

logger = logging.getLogger(KSERVE_LOGGER_NAME)
trace_logger = logging.getLogger(KSERVE_TRACE_LOGGER_NAME)


def configure_logging(log_config: dict[str, Any] | str | None = None) -> None:
    """Install the log handler (as KServe's ``configure_logging``).

    Args:
        log_config: ``None`` for zeroserve's JSON lines on stderr; a ``logging.config`` dict, or the
            path of a JSON or YAML file holding one.

    Raises:
        ValueError: a file that is neither JSON nor YAML, or that holds no mapping.
    """
    if log_config is None:
        _install("INFO")
        return
    if isinstance(log_config, str):
        path = Path(log_config)
        if path.suffix not in (".json", ".yaml", ".yml"):
            raise ValueError(f"log config file {log_config} must end in .json, .yaml or .yml")
        text = path.read_text()
        if path.suffix == ".json":
            loaded = json.loads(text)
        else:
            import yaml

            loaded = yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ValueError(f"log config file {log_config} does not hold a mapping")
        log_config = loaded
    logging.config.dictConfig(log_config)
