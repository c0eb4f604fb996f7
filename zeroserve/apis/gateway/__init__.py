"""Gateway API's group ``gateway.networking.k8s.io``."""
