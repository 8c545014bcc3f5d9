"""Domain event -> public integration event: the only place cme-tracker builds contracts."""
