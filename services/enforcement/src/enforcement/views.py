"""Read-side queries of enforcement (no aggregates loaded to answer a read)."""
