"""Fixtures of the poller tests: throwaway HTTP servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .articles import Pages, serving
from .helpers import Site


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
async def pages() -> AsyncIterator[Pages]:
    """A local publisher (aiohttp on 127.0.0.1) serving a feed and the pages it links to."""
    async with serving() as site:
        yield site
