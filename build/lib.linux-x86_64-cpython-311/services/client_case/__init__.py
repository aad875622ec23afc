"""The client-case service."""
