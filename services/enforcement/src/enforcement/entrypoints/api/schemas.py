"""Request and response bodies of enforcement's API."""
