"""Long values cut for people: log lines and error messages stay a few hundred characters."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail around ``…[N chars]…``.

    The tail stays because error messages end with their point
    (``"xxx…" is not of type "integer"``); N is the original length.
    """
    if len(text) <= limit:
        return text
    marker = f"…[{len(text):,} chars]…"
    keep = max(limit - len(marker), 0)
    tail = keep // 3
    return text[:keep - tail] + marker + (text[-tail:] if tail else "")
