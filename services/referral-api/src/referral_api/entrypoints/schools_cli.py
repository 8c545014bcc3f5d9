"""``referral-api import-schools FILE [--la 886]``: load the schools reference list from a GIAS
extract (``edubasealldata*.csv``), streamed, into referral-api's database.

Exit status: 0 when the file was imported (rejected rows are listed on stderr), 2 when the file
or the arguments cannot be used, 1 when the database refuses (e.g. the schema is not migrated).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from inclusion_kit.db.migrations import StaleSchemaError
from inclusion_kit.observability import configure_logging
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.service_layer.schools import (
    DEFAULT_BATCH_SIZE,
    ImportReport,
    SchoolFileError,
    import_schools,
    iter_lines,
    parse_schools,
)

PROG = "referral-api import-schools"
_BLOCK = 65_536


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            yield block


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Import the schools reference list from a GIAS-style CSV. New schools are inserted, "
            "changed ones updated; schools missing from the file are left alone."
        ),
    )
    parser.add_argument("file", type=Path, help="the CSV, e.g. edubasealldata20251006.csv")
    parser.add_argument("--la", dest="la_code", metavar="CODE", help="import only this LA's rows, e.g. 886")
    parser.add_argument(
        "--encoding", default=None, help="the file's encoding (default: UTF-8, else Windows-1252)"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per transaction")
    return parser


async def _run(settings: Settings, args: argparse.Namespace) -> ImportReport:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        rows = parse_schools(iter_lines(_blocks(args.file), encoding=args.encoding), la_code=args.la_code)
        return await import_schools(kernel.engine, rows, batch_size=args.batch_size)
    finally:
        await kernel.dispose()


def format_report(report: ImportReport) -> str:
    return (
        f"inserted {report.inserted}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {report.skipped} (other LAs), rejected {report.rejected_total}, "
        f"warnings {len(report.warnings)}, LAESTABs released {report.laestabs_released}"
    )


def import_schools_main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.la_code is not None and not re.fullmatch(r"[0-9]{3}", args.la_code):
        parser.error("--la must be a 3-digit LA code, e.g. 886")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    settings = Settings()
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
    try:
        report = asyncio.run(_run(settings, args))
    except SchoolFileError as exc:
        print(f"{PROG}: {args.file}: {exc}", file=sys.stderr)
        return 2
    except StaleSchemaError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    for line, reason in report.rejected:
        print(f"{args.file}:{line}: rejected: {reason}", file=sys.stderr)
    if report.rejected_total > len(report.rejected):
        print(f"... and {report.rejected_total - len(report.rejected)} more rejected rows", file=sys.stderr)
    for line, reason in report.warnings:
        print(f"{args.file}:{line}: warning: {reason}", file=sys.stderr)
    print(f"{PROG}: {format_report(report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(import_schools_main())
