"""`cme-tracker` command: api | worker | migrate | dlt-replay | reviews [--loop]."""

from __future__ import annotations

from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from cme_tracker.entrypoints.api.app import create_app
from cme_tracker.entrypoints.reviews import reviews_main
from inclusion_kit.runner import ExtraCommand, service_cli

main = service_cli(
    "cme-tracker",
    Settings,
    bootstrap,
    create_app,
    commands={
        "reviews": ExtraCommand(
            "find overdue case reviews once (or --loop); `worker` runs it too", reviews_main
        )
    },
)

if __name__ == "__main__":
    raise SystemExit(main())
