"""The portal's pages (FastAPI routes rendering Jinja2 templates)."""
