"""Domain event -> public integration event: reporting publishes none (it only consumes), so there
is nothing to map here; see ARCHITECTURE.md §1."""
