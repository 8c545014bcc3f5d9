"""Request and response bodies of cme-tracker's API."""
