"""`enforcement` command: api | worker | migrate | dlt-replay | sweep.

``worker`` runs the relay, the consumers and the sweep of unpaid notices (a kit periodic task);
``sweep`` runs one pass of the sweep (e.g. from cron).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from enforcement.entrypoints.api.app import create_app
from inclusion_kit.observability import configure_logging
from inclusion_kit.runner import ExtraCommand, service_cli


def _sweep_main(argv: Sequence[str]) -> int:
    if argv:
        raise SystemExit("enforcement sweep takes no arguments")
    settings = Settings()
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)

    async def once() -> int:
        kernel = bootstrap(settings)
        try:
            await kernel.check_schema()
            return await kernel.sweep()
        finally:
            await kernel.dispose()

    opened = asyncio.run(once())
    print(f"enforcement sweep: {opened} unpaid notice(s) moved to prosecution")
    return 0


main = service_cli(
    "enforcement",
    Settings,
    bootstrap,
    create_app,
    commands={
        "sweep": ExtraCommand(
            "move notices unpaid after 28 days to prosecution, once; `worker` runs it too", _sweep_main
        )
    },
)

if __name__ == "__main__":
    raise SystemExit(main())
