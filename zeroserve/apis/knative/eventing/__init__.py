"""Knative Eventing's API group ``eventing.knative.dev``."""
