"""FastAPI dependencies of cme-tracker: principal, unit of work, pagination."""
