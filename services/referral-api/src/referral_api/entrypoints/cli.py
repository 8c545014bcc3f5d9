"""`referral-api` command: api | worker | migrate | dlt-replay | import-schools FILE."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from inclusion_kit.runner import service_cli
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.entrypoints.api.app import create_app
from referral_api.entrypoints.schools_cli import import_schools_main

_service_main = service_cli("referral-api", Settings, bootstrap, create_app)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["import-schools"]:
        return import_schools_main(args[1:])
    return _service_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
