"""Security building blocks: caller roles and scope, keyed pseudonyms, NIK checks, and
envelope encryption of identity data (per-person data keys, crypto-shredding)."""
