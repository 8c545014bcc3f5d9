"""FastAPI dependencies of referral-api: principal, unit of work, pagination."""
