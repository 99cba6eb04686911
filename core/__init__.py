"""The shared core every KANS service builds on: settings, topics, the faust app factory, HTTP errors, logging and
the broker health probe. It imports only `schemas/`; services import it; the tools (`kans/`) import both."""
