"""The five deployables. Each is a package of the same inner shape (ARCHITECTURE.md)."""
