"""Domain event -> public integration event: the only place exclusions builds contracts."""
