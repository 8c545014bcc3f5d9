"""Commands cme-tracker accepts (plain dataclasses built by the entrypoints)."""
