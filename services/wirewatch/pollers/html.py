"""HTML -> clean plain text, the only way markup from the web enters an item.

Items carry plain text, never HTML: that is the whole XSS defence. Scripts,
styles, embedded objects, forms and page chrome are removed as subtrees
(their text is not content); attributes never reach the output at all, so
event handlers and ``javascript:`` URLs cannot survive. Text that *still*
looks like markup after one pass (double-escaped HTML, common in feeds) is
parsed again, a bounded number of times.

Block elements become line breaks so paragraphs stay readable.
"""

from __future__ import annotations

import re
from html import unescape

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Subtrees whose text is never content.
DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object",
    "embed", "applet", "svg", "math", "canvas", "video", "audio", "form", "button",
    "input", "select", "textarea", "head", "title", "link", "meta", "base", "dialog",
)  # fmt: skip

# Page chrome: never part of a post even when it sits inside one.
CHROME_SELECTORS = (
    "nav", "footer", "aside", "header nav", "[role=navigation]", "[role=complementary]",
    "[aria-hidden=true]", "[hidden]",
    "[class*=share]", "[class*=social]", "[class*=newsletter]", "[class*=subscribe]",
    "[class*=advert]", "[class*=related]", "[class*=promo]", "[class*=cookie]",
)  # fmt: skip

BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "hr",
        "address",
        "details",
        "summary",
        "caption",
    ]
)
_MARKUP = re.compile(r"</?[a-zA-Z!?]")
_SPACES = re.compile(r"[ \t\f\v\r\u00a0]+")
_MAX_PASSES = 3


def _walk_text(root: LexborNode) -> str:
    """Concatenate text nodes, turning block boundaries and ``<br>`` into newlines."""
    out: list[str] = []
    stack: list[tuple[LexborNode, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        if node.is_text_node:
            out.append(node.text_content or "")
            continue
        tag = node.tag or ""
        if not entering:
            if tag in BLOCK_TAGS:
                out.append("\n")
            continue
        if tag == "br":
            out.append("\n")
            continue
        if tag in BLOCK_TAGS:
            out.append("\n")
        stack.append((node, False))
        children: list[LexborNode] = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, True) for c in reversed(children))
    return "".join(out)


def tidy(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def remove_chrome(node: LexborNode) -> None:
    """Drop non-content subtrees (scripts, embeds, share buttons, newsletters...) in place."""
    for selector in (*DROP_TAGS, *CHROME_SELECTORS):
        for found in node.css(selector):
            found.decompose()


def node_text(node: LexborNode) -> str:
    """Plain text of an already-parsed node, without chrome (mutates the node)."""
    remove_chrome(node)
    return _finish(_walk_text(node))


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment or document; safe for every item field."""
    if not markup:
        return ""
    text = markup
    for _ in range(_MAX_PASSES):
        if "<" not in text and "&" not in text:
            break
        tree = LexborHTMLParser(text)
        root = tree.body or tree.root
        if root is None:
            return ""
        remove_chrome(root)
        text = _walk_text(root)
        if not _MARKUP.search(text):
            break
    return _finish(text)


def _finish(text: str) -> str:
    if _MARKUP.search(text):
        # Still markup-like after several passes: escape-bomb or deliberate; keep words only.
        text = re.sub(r"</?[a-zA-Z!?][^>]*>?", " ", unescape(text))
    return tidy(text.replace("\x00", ""))


def inline_text(markup: str | None) -> str:
    """Plain text on one line (titles, names)."""
    return " ".join(html_to_text(markup).split())
