"""The embedded platform: API server, serving engine, gateway, activator, autoscaler and broker."""
