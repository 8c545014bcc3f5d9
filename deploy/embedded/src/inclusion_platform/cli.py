"""`inclusion`: the platform's local command (`inclusion up`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path

from inclusion_kit.observability import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="inclusion", description="Inclusion and Attendance Service platform"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run every service in one process (SQLite files, embedded bus)")
    up.add_argument("--data-dir", type=Path, default=Path("var/local"), help="where the SQLite files live")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8001, help="first port; services take consecutive ports")
    up.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    configure_logging("inclusion", level=args.log_level, json_lines=False)
    from inclusion_platform.embedded import run

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(
            args.data_dir.resolve(), args.host, args.port, stop, announce=lambda text: print(text, flush=True)
        )

    asyncio.run(go())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
