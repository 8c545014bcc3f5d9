"""The cme-tracker domain: plain Python, no framework or adapter imports."""
