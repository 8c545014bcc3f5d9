"""`referral-api` command: api | worker | migrate | dlt-replay."""

from __future__ import annotations

from inclusion_kit.runner import service_cli
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.entrypoints.api.app import create_app

main = service_cli("referral-api", Settings, bootstrap, create_app)

if __name__ == "__main__":
    raise SystemExit(main())
