"""`reporting` command: api | worker | migrate | dlt-replay | rebuild | generations | activate N."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from inclusion_kit.runner import service_cli
from reporting.bootstrap import bootstrap
from reporting.config import Settings
from reporting.entrypoints.api.app import create_app

_service_main = service_cli("reporting", Settings, bootstrap, create_app)
READ_MODEL_COMMANDS = ("rebuild", "generations", "activate")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] and args[0] in READ_MODEL_COMMANDS:
        from reporting.entrypoints.rebuild import main as read_models_main

        return read_models_main(args)
    if args[:1] in (["-h"], ["--help"]):
        print(
            "read models: reporting rebuild [--no-switch] [--keep N] [--from-outbox URL ...] | "
            "reporting generations | reporting activate N\n"
        )
    return _service_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
