"""Domain event -> public integration event: the only place referral-api builds contracts."""
