"""Kept only until ``embedded/runner.py`` imports :func:`batches_until` from :mod:`wirewatch.bus.base`.

Back-off and rate limiting live in :mod:`wirewatch.core.retry`; stoppable
consumption is a subscriber's concern, so it moved to the bus.
"""

from __future__ import annotations

from wirewatch.bus.base import batches_until

__all__ = ["batches_until"]
