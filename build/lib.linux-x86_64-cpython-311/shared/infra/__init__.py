"""Local real infrastructure without Docker: a Kafka broker and a PostgreSQL cluster on loopback."""
