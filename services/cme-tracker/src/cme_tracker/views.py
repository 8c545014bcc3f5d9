"""Read-side queries of cme-tracker (no aggregates loaded to answer a read)."""
