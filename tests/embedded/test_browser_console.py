"""The web console in a real headless Chromium (#17 items 2 and 8): what a desk sees and does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wirewatch.embedded.web import create_app, start_web
from wirewatch.sinks.sqlite import SqliteStore

from .test_browser import HOSTILE
from .test_browser import browser as browser  # the fixture, shared

pytestmark = pytest.mark.browser


@pytest.fixture
async def small_console(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteStore]]:
    store = SqliteStore(tmp_path)
    store.index_items_sync([HOSTILE, {**HOSTILE, "id": "evil:2", "story_id": "evil:2"}])
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        yield url, store
    finally:
        await runner.cleanup()
        await store.close()


async def test_the_stats_line_is_right_with_javascript_off(browser: Any, small_console: tuple[str, Any]) -> None:
    """#17 item 2: without JS the first render's ``<built-in method items ...>`` stayed for good."""
    url, _ = small_console
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(url)
        assert await page.locator("#stats").inner_text() == "2 items · 2 stories · 0 alerts"
    finally:
        await context.close()
