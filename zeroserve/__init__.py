"""zeroserve: a KServe-compatible, Knative-native serverless inference platform."""

__version__ = "0.1.0"
