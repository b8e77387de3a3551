"""Fixtures of the poller tests: a throwaway HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
