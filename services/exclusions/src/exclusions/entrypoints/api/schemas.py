"""Request and response bodies of exclusions's API."""
