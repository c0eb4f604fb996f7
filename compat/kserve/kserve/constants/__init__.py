"""``kserve.constants``: KServe's constants module (``kserve.constants.constants``)."""
