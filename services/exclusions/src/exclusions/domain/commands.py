"""Commands exclusions accepts (plain dataclasses built by the entrypoints)."""
