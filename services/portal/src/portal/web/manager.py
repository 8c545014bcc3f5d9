"""Managers' pages: the indicator board (red/amber/green and direction of travel), charts of
attendance, persistent absence and exclusions by district and over time, and CSV/XLSX downloads
proxied from reporting (which audits every export)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal.api import ApiError
from portal.charts import bar_chart, line_chart
from portal.web.deps import REPORT_ROLES, Api, PageError, User, render, require
from portal.web.school import fetch

router = APIRouter()

Reader = Annotated[User, Depends(require(*REPORT_ROLES))]

REPORTS = ("indicators", "attendance", "exclusions", "cme", "enforcement", "referrals")
HALF_TERMS = ("autumn-1", "autumn-2", "spring-1", "spring-2", "summer-1", "summer-2")
_YEAR = re.compile(r"^[0-9]{4}/[0-9]{2}$")


def _year(academic_year: str | None) -> str | None:
    if academic_year and not _YEAR.fullmatch(academic_year):
        raise PageError(404)
    return academic_year or None


@router.get("/manager/indicators")
async def indicators(request: Request, user: Reader, api: Api, academic_year: str | None = None) -> Response:
    board = await fetch(
        api, "reporting", "/reports/indicators", user, {"academic_year": _year(academic_year)}
    )
    for indicator in board["indicators"]:
        unit = "%" if indicator["unit"] == "percent" else ""
        points = [(t["period"], t["value"]) for t in indicator["trend"]] + [
            (indicator["period"], indicator["value"])
        ]
        indicator["chart"] = (
            line_chart(f"trend-{indicator['id']}", f"{indicator['title']} over time", points, unit)
            if sum(v is not None for _, v in points) >= 2
            else None
        )
    charted = any(i["chart"] for i in board["indicators"])
    return render(
        request, "indicators.html", {"board": board, "academic_year": academic_year or "", "charted": charted}
    )


@router.get("/manager/charts")
async def charts(request: Request, user: Reader, api: Api, academic_year: str | None = None) -> Response:
    year = _year(academic_year)
    attendance = await fetch(
        api, "reporting", "/reports/attendance", user, {"by": "district", "academic_year": year}
    )
    exclusions = await fetch(
        api, "reporting", "/reports/exclusions", user, {"by": "district", "academic_year": year}
    )
    rows: list[dict[str, Any]] = attendance["rows"]
    excl_rows: list[dict[str, Any]] = exclusions["rows"]
    over_time: list[tuple[str, float | None, float | None]] = []
    for half in HALF_TERMS:
        try:
            la = await api.get(
                "reporting",
                "/reports/attendance",
                user.token,
                {"by": "la", "half_term": half, "academic_year": year},
            )
        except ApiError as exc:
            if exc.status in (403, 404):
                raise PageError(exc.status) from None
            over_time.append((half, None, None))  # a half-term the calendar does not know yet
            continue
        first = la["rows"][0] if la["rows"] else {}
        over_time.append((half, first.get("overall_absence_rate"), first.get("persistent_absence_rate")))
    context = {
        "academic_year": academic_year or "",
        "period": attendance["period"],
        "attendance_rows": rows,
        "exclusion_rows": excl_rows,
        "over_time": over_time,
        "absence_chart": bar_chart(
            "absence-by-district",
            "Overall absence by district (%)",
            [(r["district"], r.get("overall_absence_rate")) for r in rows],
        ),
        "persistent_chart": bar_chart(
            "persistent-by-district",
            "Persistent absence by district (% of pupils)",
            [(r["district"], r.get("persistent_absence_rate")) for r in rows],
        ),
        "suspension_chart": bar_chart(
            "suspensions-by-district",
            "Suspensions per 100 pupils by district",
            [(r["district"], r.get("suspension_rate")) for r in excl_rows],
            unit="",
        ),
        "absence_time_chart": line_chart(
            "absence-over-time", "Overall absence by half-term (%)", [(h, a) for h, a, _ in over_time]
        ),
        "persistent_time_chart": line_chart(
            "persistent-over-time", "Persistent absence by half-term (%)", [(h, p) for h, _, p in over_time]
        ),
    }
    return render(request, "charts.html", context)


@router.get("/manager/downloads/{report}.{fmt}")
async def download(
    request: Request,
    report: str,
    fmt: str,
    user: Reader,
    api: Api,
    academic_year: str | None = None,
    by: str | None = None,
) -> Response:
    if report not in REPORTS or fmt not in ("csv", "xlsx"):
        raise PageError(404)
    params = {"format": fmt, "academic_year": _year(academic_year), "by": by}
    try:
        file = await api.download("reporting", f"/exports/{report}", user.token, params)
    except ApiError as exc:
        raise PageError(exc.status if exc.status in (401, 403, 404) else 409, exc.detail) from None
    filename = file.filename or f"{report}.{fmt}"
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"},
    )
