"""Read-side queries of referral-api (no aggregates loaded to answer a read)."""
