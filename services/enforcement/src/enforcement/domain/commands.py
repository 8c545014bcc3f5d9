"""Commands enforcement accepts (plain dataclasses built by the entrypoints)."""
