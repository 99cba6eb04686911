"""Ingest: the way in for source systems. Validates submissions, deduplicates them and publishes events to Kafka."""
