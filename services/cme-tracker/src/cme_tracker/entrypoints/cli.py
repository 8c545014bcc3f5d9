"""`cme-tracker` command: api | worker | migrate | dlt-replay."""

from __future__ import annotations

from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from cme_tracker.entrypoints.api.app import create_app
from inclusion_kit.runner import service_cli

main = service_cli("cme-tracker", Settings, bootstrap, create_app)

if __name__ == "__main__":
    raise SystemExit(main())
