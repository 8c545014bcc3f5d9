"""`cme-tracker` command: api | worker | migrate | dlt-replay | reviews [--loop]."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from cme_tracker.entrypoints.api.app import create_app
from cme_tracker.entrypoints.reviews import reviews_main
from inclusion_kit.runner import service_cli

_service_main = service_cli("cme-tracker", Settings, bootstrap, create_app)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["reviews"]:
        return reviews_main(args[1:])
    return _service_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
