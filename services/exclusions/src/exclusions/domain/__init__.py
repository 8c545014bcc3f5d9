"""The exclusions domain: plain Python, no framework or adapter imports."""
