"""The platform as `inclusion up` runs it (in-process uvicorn servers on free ports, SQLite, the
embedded bus, the tiny demo county) and a real headless Chromium driven by Playwright.

Chromium is Debian's (`apt-get install chromium`): Playwright's own browser downloads are not used.
axe-core comes from the npm registry (`npm ci --prefix services/portal`). Both are required: the
tests fail, never skip, when either is missing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from inclusion_kit.calendar import london_today
from inclusion_kit.settings import AuthSettings
from inclusion_platform import embedded
from inclusion_platform.demo import SIZES, DemoCounty, DemoLoader, Endpoints, demo_tokens

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AXE = ROOT / "services" / "portal" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERIOUS = {"serious", "critical"}


def free_port_block(count: int) -> int:
    for base in range(30000, 60000, 89):
        sockets: list[socket.socket] = []
        try:
            for offset in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", base + offset))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


@dataclass
class Platform:
    first_port: int
    auth: AuthSettings
    messages: list[str] = field(default_factory=list)

    def api(self, index: int) -> str:
        return f"http://127.0.0.1:{self.first_port + index}"

    @property
    def portal(self) -> str:
        return f"http://127.0.0.1:{self.first_port + len(embedded.SERVICES)}"


@pytest.fixture(scope="session")
async def platform() -> AsyncIterator[Platform]:
    first_port = free_port_block(len(embedded.SERVICES) + 1)
    stop = asyncio.Event()
    result = Platform(first_port, AuthSettings())

    with tempfile.TemporaryDirectory(prefix="portal-e2e-") as data_dir:
        task = asyncio.create_task(
            embedded.run(Path(data_dir), "127.0.0.1", first_port, stop, result.messages.append, demo=None)
        )
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(300):
                    assert not task.done(), f"inclusion up stopped: {task.exception()}"
                    try:
                        if (await client.get(result.portal + "/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
            # The tiny demo county (schools, rolls, registers, a referral, exclusions) through the
            # public APIs, as `inclusion up --demo tiny` loads it; penalty requests are left out
            # (they wait for enforcement's positions, which this journey does not need).
            county = DemoCounty(SIZES["tiny"], today=london_today())
            endpoints = Endpoints(result.api(0), result.api(1), result.api(2), None, result.api(4))
            report = await asyncio.to_thread(DemoLoader(county, endpoints, demo_tokens(result.auth)).run)
            assert report.pupils > 0 and report.marks_accepted > 0, report.problems[:5]
            yield result
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is required: apt-get install -y chromium"  # noqa: ASYNC240
    assert AXE.exists(), "axe-core is required: npm ci --prefix services/portal"
    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright starts each launch with a fresh, empty temporary profile (its --user-data-dir).
    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


class Journey:
    """One user's browser session: every page it visits is screenshotted and checked with axe."""

    def __init__(self, page: Page, base: str, who: str) -> None:
        self.page = page
        self.base = base
        self.who = who
        self.step = 0
        self.checked: list[str] = []

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.base + path)

    async def check(self, name: str) -> list[dict[str, Any]]:
        """Screenshot the page and run axe-core in it; fail on serious or critical violations."""
        self.step += 1
        stem = f"{self.who}-{self.step:02d}-{name}"
        await self.page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
        await self.page.add_script_tag(path=str(AXE))
        violations: list[dict[str, Any]] = await self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {resultTypes: ['violations']});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' '))
                }));
            }"""
        )
        (ARTIFACTS / f"{stem}.axe.json").write_text(json.dumps(violations, indent=2))
        serious = [v for v in violations if v["impact"] in SERIOUS]
        assert not serious, f"{stem} ({self.page.url}): axe found {json.dumps(serious, indent=2)}"
        self.checked.append(self.page.url)
        return violations


@pytest.fixture
async def new_journey(browser: Browser, platform: Platform) -> AsyncIterator[Any]:
    contexts = []

    async def make(who: str) -> Journey:
        # bypass_csp: the portal's CSP forbids inline scripts, which is how axe is injected.
        context = await browser.new_context(
            bypass_csp=True, accept_downloads=True, viewport={"width": 1200, "height": 900}
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return Journey(page, platform.portal, who)

    yield make
    for context in contexts:
        await context.close()
