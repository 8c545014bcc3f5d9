"""The reporting domain: plain Python, no framework or adapter imports."""
