"""Domain event -> public integration event: the only place enforcement builds contracts."""
