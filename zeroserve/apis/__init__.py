"""API types shared by every component: KServe's and Knative's kinds, per group and version."""
