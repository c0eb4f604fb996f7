"""Knative Serving's API group ``serving.knative.dev``."""
