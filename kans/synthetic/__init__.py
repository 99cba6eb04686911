"""Synthetic school years of the KANS desk: realistic, deterministic event histories for the demo, the tests and
benchmark load. `generate(GeneratorParams(...), today)` yields submissions; see `kans.synthetic.generator`."""
