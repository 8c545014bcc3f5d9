"""Commands reporting accepts (plain dataclasses built by the entrypoints)."""
