"""Read-side queries of reporting (no aggregates loaded to answer a read)."""
