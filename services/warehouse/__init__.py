"""Warehouse: ClickHouse schema (versioned DDL), the Kafka -> ClickHouse writer, and read queries."""
