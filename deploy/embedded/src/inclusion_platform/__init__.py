"""The one-command local run: every service in one process (ARCHITECTURE.md §5)."""
