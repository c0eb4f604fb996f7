"""The data plane's REST app: KServe V1/V2 routes, deadlines and one-write responses."""
