"""`enforcement` command: api | worker | migrate | dlt-replay."""

from __future__ import annotations

from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from enforcement.entrypoints.api.app import create_app
from inclusion_kit.runner import service_cli

main = service_cli("enforcement", Settings, bootstrap, create_app)

if __name__ == "__main__":
    raise SystemExit(main())
