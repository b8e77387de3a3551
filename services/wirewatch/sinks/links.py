"""The one link a message may carry: a feed's URL made safe to put in any channel's markup.

Slack, Teams, Discord and the HTML mail all link the item; a feed writes the URL,
so it could hold ``javascript:``, a relative path, ``|``/``<``/``>`` that end a Slack
link, spaces, controls or non-ASCII. :func:`web_link` keeps only an ``http(s)`` URL
with a clean host and percent-encodes the rest; each format adds its own escaping.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

#: RFC 3986 reserved and unreserved characters plus "%" (already-encoded URLs stay as they are),
#: without "|", "<" and ">": everything else (spaces, controls, non-ASCII) is percent-encoded
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]@_%!$&'()*+,;=~]+")


def web_link(url: str, limit: int = 2000) -> str | None:
    """``url`` as a plain-ASCII ``http(s)`` URL, or None when it should not be linked.

    urlsplit drops tabs and newlines, as browsers do (WHATWG URL); an IDN host is
    IDNA-encoded; a link longer than ``limit`` characters is not linked.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.netloc
        if not host.isascii():
            host = host.encode("idna").decode("ascii")  # an IDN host stays a host
    except (ValueError, UnicodeError):
        return None
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    link = f"{parts.scheme}://{host}{quote(parts.path, safe=_URL_SAFE)}"
    if parts.query:
        link += "?" + quote(parts.query, safe=_URL_SAFE)
    if parts.fragment:
        link += "#" + quote(parts.fragment, safe=_URL_SAFE)
    return link if len(link) <= limit else None


def one_line(text: str) -> str:
    """Whitespace runs (newlines, tabs, RTL text's spaces too) as one space, ends trimmed."""
    return " ".join(text.split())


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, with an ellipsis where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count_items(count: int) -> str:
    """``1 item``, ``10 items``: a digest event's count of items."""
    number = int(count)
    return "1 item" if number == 1 else f"{number} items"
