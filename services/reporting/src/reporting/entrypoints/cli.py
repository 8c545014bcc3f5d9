"""`reporting` command: api | worker | migrate | dlt-replay."""

from __future__ import annotations

from inclusion_kit.runner import service_cli
from reporting.bootstrap import bootstrap
from reporting.config import Settings
from reporting.entrypoints.api.app import create_app

main = service_cli("reporting", Settings, bootstrap, create_app)

if __name__ == "__main__":
    raise SystemExit(main())
