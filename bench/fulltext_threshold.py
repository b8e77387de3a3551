"""How ``full_text: auto``'s threshold (``fulltext.TEASER_BELOW``) was chosen: text lengths of feed entries.

``python -m bench.fulltext_threshold [CORPUS]`` (default ``../shared/corpora/feedparser``) prints
the length in characters (after ``html_to_text``) of every entry's ``summary``/``description``
and of every ``content`` (``content:encoded``, Atom ``content``) in feedparser's test corpus,
and of the articles the four publisher-shaped pages of tests/fixtures/pollers/articles hold.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import feedparser

from wirewatch.pollers.fulltext import extract
from wirewatch.pollers.html import html_to_text

ARTICLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pollers" / "articles"


def _quantiles(values: list[int]) -> str:
    ordered = sorted(values)
    n = len(ordered)
    marks = ", ".join(f"p{int(p * 100)} {ordered[int(n * p)]}" for p in (0.5, 0.9, 0.99))
    return f"{n} texts: {marks}, max {ordered[-1]}"


def main(corpus: Path) -> None:
    warnings.simplefilter("ignore")
    summaries: list[int] = []
    contents: list[int] = []
    for path in sorted(corpus.rglob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            summary = html_to_text(entry.get("summary") or "")
            content = max((html_to_text(c.get("value") or "") for c in entry.get("content") or []), key=len, default="")
            if summary:
                summaries.append(len(summary))
            if content:
                contents.append(len(content))
    print("feed summaries:", _quantiles(summaries))
    print("feed contents: ", _quantiles(contents))
    for page in sorted(ARTICLES.glob("*.html")):
        print(f"article {page.name}: {len(extract(page.read_bytes(), 'text/html', 'http://x/').text)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/corpora/feedparser"))
