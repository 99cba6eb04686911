"""The `kans` tools: command line, local Kafka, process runner, demo data, benchmarks and the synthetic generator.
Tools may import the services and the core; nothing in `core/`, `schemas/` or `services/` imports the tools."""
