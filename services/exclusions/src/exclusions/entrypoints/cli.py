"""`exclusions` command: api | worker | migrate | dlt-replay."""

from __future__ import annotations

from exclusions.bootstrap import bootstrap
from exclusions.config import Settings
from exclusions.entrypoints.api.app import create_app
from inclusion_kit.runner import service_cli

main = service_cli("exclusions", Settings, bootstrap, create_app)

if __name__ == "__main__":
    raise SystemExit(main())
