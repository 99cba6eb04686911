"""KANS event platform: shared wiring (settings, topics, logging) and the `kans` command line."""
