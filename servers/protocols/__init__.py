"""Wire codecs: one module per protocol, each only translating bytes <-> internal types."""
