"""Event contracts: the CloudEvents envelope and the v1 catalog, owned by producing contexts."""
