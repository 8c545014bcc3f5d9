"""Domain event -> public integration event: the only place reporting builds contracts."""
