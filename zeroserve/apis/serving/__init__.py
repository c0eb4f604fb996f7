"""KServe's API group ``serving.kserve.io``."""
