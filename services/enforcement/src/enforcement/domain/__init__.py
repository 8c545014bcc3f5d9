"""The enforcement domain: plain Python, no framework or adapter imports."""
