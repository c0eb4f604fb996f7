"""Knative's API groups: ``serving.knative.dev`` and ``eventing.knative.dev``."""
