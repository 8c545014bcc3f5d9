"""Read-side queries of exclusions (no aggregates loaded to answer a read)."""
