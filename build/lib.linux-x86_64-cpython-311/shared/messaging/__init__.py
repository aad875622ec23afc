"""Kafka plumbing: producer/consumer factories, transactional outbox and relay, idempotent
inbox, bounded retries with a dead-letter topic, and redrive."""
