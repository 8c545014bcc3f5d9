"""Request and response bodies of reporting's API."""
