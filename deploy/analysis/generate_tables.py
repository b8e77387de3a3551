"""Generate ``services/wirewatch/search/lucene_tables.py`` from Lucene itself.

Run: ``.venv/bin/python deploy/analysis/generate_tables.py`` (needs a JDK and the
Lucene jars of the Elasticsearch node: ``$WIREWATCH_CACHE/elasticsearch-$ES_VERSION/lib``
as installed by ``make stack-up``, else ``~/.m2``). The output is committed, so
Wirewatch needs no Java at run time.

What comes from Lucene (``LuceneTables.java`` beside this file):

* the character classes of ``StandardTokenizerImpl`` (its JFlex scanner is built
  from Unicode 9 properties, whatever Unicode version Python knows): every code
  point's DFA input class. Each class is named by the Unicode properties most of
  its members have (``regex`` module), the names the grammar uses (ALetter,
  MidNum, Katakana, ...). Code points of one class behave alike in Lucene, so a
  member whose properties changed since Unicode 9 follows its class;
* ``ASCIIFoldingFilter.foldToASCII`` of every BMP character it changes;
* ``Character.toLowerCase`` (LowerCaseFilter) where it differs from Python's
  ``str.lower`` on one character, plus the context-dependent final sigma.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import regex  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "services" / "wirewatch" / "search" / "lucene_tables.py"

#: Unicode properties that tell the grammar's character classes apart.
PROPERTIES = {
    "ALetter": r"\p{WB=ALetter}", "Hebrew_Letter": r"\p{WB=Hebrew_Letter}", "Numeric": r"\p{WB=Numeric}",
    "Katakana": r"\p{WB=Katakana}", "MidLetter": r"\p{WB=MidLetter}", "MidNum": r"\p{WB=MidNum}",
    "MidNumLet": r"\p{WB=MidNumLet}", "Single_Quote": r"\p{WB=Single_Quote}", "Double_Quote": r"\p{WB=Double_Quote}",
    "ExtendNumLet": r"\p{WB=ExtendNumLet}", "Extend": r"\p{WB=Extend}", "Format": r"\p{WB=Format}",
    "ZWJ": r"\p{WB=ZWJ}", "Han": r"\p{Script=Han}", "Hiragana": r"\p{Script=Hiragana}",
    "Hangul": r"\p{Script=Hangul}", "Complex_Context": r"\p{Line_Break=Complex_Context}",
    "Regional_Indicator": r"\p{WB=Regional_Indicator}", "Extended_Pictographic": r"\p{Extended_Pictographic}",
    "Emoji": r"\p{Emoji}", "Emoji_Modifier": r"\p{Emoji_Modifier}",
}
COMPILED = {name: regex.compile(p) for name, p in PROPERTIES.items()}

#: The role each class plays in the grammar, by its members' majority properties (plus a
#: few single characters the grammar names). An unknown combination stops the generator.
ROLES = {
    (): "OTHER",
    ("Double_Quote",): "DOUBLE_QUOTE",
    ("Single_Quote",): "SINGLE_QUOTE",
    ("MidNum",): "MID_NUM",
    ("MidNumLet",): "MID_NUM_LET",
    ("MidLetter",): "MID_LETTER",
    ("ALetter",): "ALETTER",
    ("ExtendNumLet",): "EXTEND_NUM_LET",
    ("Extend",): "EXTEND",
    ("Hebrew_Letter",): "HEBREW_LETTER",
    ("Numeric",): "NUMERIC",
    ("Complex_Context",): "COMPLEX_CONTEXT",
    ("Extend", "Complex_Context"): "COMPLEX_CONTEXT_EXTEND",
    ("ALetter", "Hangul"): "HANGUL",
    ("ZWJ",): "ZWJ",
    ("ALetter", "Extended_Pictographic", "Emoji"): "ALETTER_EMOJI",
    ("Han",): "HAN",
    ("Katakana",): "KATAKANA",
    ("Hiragana",): "HIRAGANA",
    ("Regional_Indicator", "Emoji"): "REGIONAL_INDICATOR",
    ("Extend", "Emoji", "Emoji_Modifier"): "EMOJI_MODIFIER",
    ("Extended_Pictographic", "Emoji"): "EMOJI",
    ("Extended_Pictographic",): "EMOJI",  # most of that class is reserved for future emoji
    ("Numeric", "Emoji"): "DIGIT",  # 0-9: numbers, and keycap bases
    ("Emoji",): "KEYCAP_BASE",  # # and *
}
#: Single characters the grammar names itself (their class has no other member).
NAMED = {0x20E3: "KEYCAP", 0xFE0E: "TEXT_PRESENTATION", 0xFE0F: "EMOJI_PRESENTATION", 0xE007F: "TAG_TERM"}
TAG_SPEC = range(0xE0020, 0xE007F)


def lucene_classpath() -> str:
    cache = os.environ.get("WIREWATCH_CACHE", "/var/cache/wirewatch")
    lib = Path(cache) / f"elasticsearch-{os.environ.get('ES_VERSION', '9.5.4')}" / "lib"
    jars = sorted(lib.glob("lucene-core-*.jar")) + sorted(lib.glob("lucene-analysis-common-*.jar"))
    if len(jars) < 2:
        m2 = Path.home() / ".m2" / "repository" / "org" / "apache" / "lucene"
        jars = sorted(m2.glob("lucene-core/*/lucene-core-*.jar"))[-1:] + sorted(
            m2.glob("lucene-analysis-common/*/lucene-analysis-common-*.jar"))[-1:]
    if len(jars) < 2:
        sys.exit("no Lucene jars found: run `make stack-up` (it installs the Elasticsearch node) first")
    return os.pathsep.join(map(str, jars))


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found:
        sys.exit("no java found (set JAVA_HOME)")
    return found


def dump() -> dict:
    classpath = lucene_classpath()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tables.json"
        with out.open("w") as fh:
            subprocess.run([java(), "-cp", classpath, str(HERE / "LuceneTables.java")], stdout=fh, check=True)
        data = json.loads(out.read_text())
    data["classpath"] = [Path(p).name for p in classpath.split(os.pathsep)]
    return data


def signature(code: int) -> tuple[str, ...]:
    char = chr(code)
    return tuple(name for name, pattern in COMPILED.items() if pattern.match(char))


def roles(cmap: list[list[int]]) -> dict[str, list[tuple[int, int]]]:
    members: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)
    for start, end, cls in cmap:
        members[cls].append((start, end))
    out: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for cls, ranges in members.items():
        codes = [c for start, end in ranges for c in range(start, end + 1)]
        named = {NAMED.get(c) for c in codes}
        if len(codes) == 1 and None not in named:
            role = named.pop() or ""
        elif all(c in TAG_SPEC for c in codes):
            role = "TAG_SPEC"
        else:
            votes = collections.Counter(signature(c) for c in codes if not 0xD800 <= c <= 0xDFFF)
            sig = votes.most_common(1)[0][0]
            if sig not in ROLES:
                sys.exit(f"class {cls} ({len(codes)} code points, e.g. {codes[:5]}): unknown properties {sig}")
            role = ROLES[sig]
        if role in out and role != "OTHER":
            sys.exit(f"two classes with role {role}")
        out[role].extend(ranges)
    return {role: sorted(ranges) for role, ranges in out.items()}


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def lower_exceptions(lower: dict[str, int], table: dict[str, list[tuple[int, int]]]) -> dict[int, int]:
    """Token characters whose Java lowercase differs from Python's ``str.lower`` of that one character."""
    out = {}
    in_tokens = (c for role, ranges in table.items() if role != "OTHER" for a, b in ranges for c in range(a, b + 1))
    for code in in_tokens:
        if 0xD800 <= code <= 0xDFFF:
            continue
        java_lower = lower.get(str(code), code)
        if chr(code).lower() != chr(java_lower):
            out[code] = java_lower
    out[0x03A3] = 0x03C3  # Σ: Python lowercases it to final ς at a word's end, Java never does
    return out


def role_changes(lower: dict[str, int], table: dict[str, list[tuple[int, int]]]) -> list[int]:
    """Token characters whose lowercase plays another role in the grammar (Ⓜ is an emoji, ⓜ is not)."""
    role_of = {c: role for role, ranges in table.items() if role != "OTHER" for a, b in ranges for c in range(a, b + 1)}
    return sorted(c for c, role in role_of.items() if role_of.get(lower.get(str(c), c), "OTHER") != role)


def fold_changes(data: dict, table: dict[str, list[tuple[int, int]]]) -> list[int]:
    """Token characters whose lowercase folds to characters of another role (Ⓜ -> ⓜ -> m, ⑴ -> (1)).

    Roles as they act inside a token: ASCII and other digits are both numbers; a MidNumLet
    inside a token sits between two letters or digits, where a single quote joins alike (’ -> ').
    """
    role_of = {c: role for role, ranges in table.items() if role != "OTHER" for a, b in ranges for c in range(a, b + 1)}
    same = {"DIGIT": "NUMERIC", "SINGLE_QUOTE": "MID_NUM_LET"}

    def role(c: int) -> str:
        found = role_of.get(c, "OTHER")
        return same.get(found, found)

    out = []
    for code in role_of:
        lower = data["lower"].get(str(code), code)
        folded = data["fold"].get(str(lower))
        if folded is not None and any(role(ord(c)) != role(code) for c in folded.lower()):
            out.append(code)
    return sorted(out)


def render(data: dict) -> str:
    table = roles(data["cmap"])
    lines = [
        '"""Lucene\'s tables for :mod:`wirewatch.search.analysis`. GENERATED: do not edit.',
        "",
        "Regenerate with ``python deploy/analysis/generate_tables.py`` (see its docstring);",
        f"from {', '.join(data['classpath'])} on Java {data['java']}.",
        '"""',
        "",
        "#: StandardTokenizer's character classes (code point ranges, ends included), by their role in its grammar.",
        "CLASSES: dict[str, tuple[tuple[int, int], ...]] = {",
    ]
    for role in sorted(table):
        if role != "OTHER":
            ranges = ", ".join(f"({a:#x}, {b:#x})" for a, b in merge(table[role]))
            lines.append(f"    {role!r}: ({ranges},),")
    lines.append("}")
    lines.append("")
    lines.append("#: ASCIIFoldingFilter.foldToASCII of each BMP character it changes.")
    lines.append("FOLD: dict[str, str] = {")
    for code, folded in sorted(data["fold"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"    {chr(int(code))!a}: {folded!r},")
    lines.append("}")
    lines.append("")
    lines.append("#: Java's Character.toLowerCase where it differs from Python's str.lower of one character.")
    lines.append("LOWER: dict[str, str] = {")
    for code, lower in sorted(lower_exceptions(data["lower"], table).items()):
        lines.append(f"    {chr(code)!a}: {chr(lower)!a},")
    lines.append("}")
    lines.append("")
    lines.append("#: Token characters whose lowercase plays another role in the tokenizer's grammar.")
    lines.append(f"LOWER_CHANGES_ROLE = {''.join(map(chr, role_changes(data['lower'], table)))!a}")
    lines.append("")
    lines.append("#: Token characters whose lowercase folds to characters of another role in the grammar.")
    lines.append(f"FOLD_CHANGES_ROLE = {''.join(map(chr, fold_changes(data, table)))!a}")
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.write_text(render(dump()))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
