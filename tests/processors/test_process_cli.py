"""`wirewatch process`: the exact JSON-lines contract, through a real subprocess."""

from __future__ import annotations

import json
import re
import select
import subprocess
from pathlib import Path

import pytest

from wirewatch.core.schemas import validate
from wirewatch.processors.ner import installed_ner_model

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "processors"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def run(wirewatch_bin: str, env: dict[str, str], *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([wirewatch_bin, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_process_writes_processed_items_in_order_and_dead_letters_bad_lines(
    wirewatch_bin: str, wirewatch_env: dict[str, str], tmp_path: Path
) -> None:
    alerts, dead = tmp_path / "alerts.jsonl", tmp_path / "dead.jsonl"
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "off",
               "--alerts", str(alerts), "--dead-letters", str(dead), stdin=(FIX / "raw_items.jsonl").read_text("utf-8"))
    assert done.returncode == 0, done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    for item in got:
        assert STAMP.match(item.pop("processed_at"))
    expected = [json.loads(line) for line in (FIX / "expected_processed.jsonl").read_text("utf-8").splitlines()]
    assert got == expected
    logs = [json.loads(line) for line in done.stderr.splitlines()]
    warned = [(e["offset"], e["reason"].split(":")[0]) for e in logs if e["event"] == "bad raw item sent to dead letters"]
    assert warned == [(4, "invalid JSON"), (5, "not a valid raw_item")]  # lines 5 and 6
    letters = [json.loads(line) for line in dead.read_text("utf-8").splitlines()]
    assert [(d["stage"], d["topic"], d["offset"], d["reason"].split(":")[0]) for d in letters] == [
        ("processor", "stdin", 4, "invalid JSON"), ("processor", "stdin", 5, "not a valid raw_item")]
    assert '"url" is a required property' in letters[1]["reason"]
    raised = [json.loads(line) for line in alerts.read_text("utf-8").splitlines()]
    assert [(a["rule"], a["item_id"]) for a in raised] == [
        (ref["rule"], item["id"]) for item in got for ref in item["alerts"]]
    assert raised


def test_process_with_empty_input_writes_nothing(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "off", stdin="")
    assert (done.returncode, done.stdout) == (0, "")


def test_process_bad_rules_file_is_one_line_and_exit_2(wirewatch_bin: str, wirewatch_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - query: earthquake\n")
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(bad), "--ner", "off", stdin="")
    assert done.returncode == 2
    assert done.stderr.startswith("wirewatch process: error: ") and done.stderr.count("\n") == 1
    assert "rules[0]" in done.stderr


def test_process_help_has_examples(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    done = run(wirewatch_bin, wirewatch_env, "process", "--help", stdin="")
    assert done.returncode == 0
    assert "wirewatch process --rules rules.yaml --ner off < raw.jsonl > processed.jsonl" in done.stdout


def test_process_answers_each_line_without_waiting_for_a_full_batch(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    """Items are batched only from input already waiting: a slow producer (a poller on a
    pipe) gets each item out as soon as it is in, and the order still holds."""
    raw = [line for line in (FIX / "raw_items.jsonl").read_text("utf-8").splitlines() if line.startswith('{"id"')][:2]
    proc = subprocess.Popen([wirewatch_bin, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "off"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=wirewatch_env)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for line in raw:
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "no output for a line while stdin stays open"
            assert json.loads(proc.stdout.readline())["id"] == json.loads(line)["id"]
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read() == b""
    finally:
        proc.kill()


def test_process_reads_a_last_line_without_newline_and_crlf_lines(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    raw = [line for line in (FIX / "raw_items.jsonl").read_text("utf-8").splitlines() if line.startswith('{"id"')][:3]
    stdin = f"\n{raw[0]}\r\n\n{raw[1]}\n{raw[2]}"  # blank lines, a CRLF, no final newline
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "off", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [json.loads(r)["id"] for r in raw]


def test_process_reads_lines_longer_than_one_read_and_across_read_borders(
    wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    raw = [json.loads(line) for line in (FIX / "raw_items.jsonl").read_text("utf-8").splitlines()[:3]]
    raw[1]["body"] += " padding" * 20_000  # ~160 KB: more than two 64 KB reads
    lines = [json.dumps(item) for item in raw]
    lines.insert(1, json.dumps(dict(raw[0], id="filler", body="x " * (65_536 - len(lines[0]) % 65_536))))
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "off",
               stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert [item["id"] for item in got] == ["wire-1", "filler", "mirror-1", "agg-1"]
    assert got[2]["body"] == raw[1]["body"]


def test_process_ner_on_tags_each_language_with_its_own_model_or_the_catalogue(
    wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    """`--ner on` over items in six languages: the English model reads the English item only
    (no `Китаю діалог`, `Ο Κινέζος` junk), Russian goes to natasha when it is installed, and
    names in every script resolve to the catalogue's and the watchlist's canonical entities."""
    if installed_ner_model() is None:
        pytest.skip("no spaCy model installed (extra `ner`)")
    texts = {
        "en": ("SCHOOF AND ZELENSKYY MEET IN KYIV", "Dutch Prime Minister Dick Schoof met Volodymyr Zelenskyy in Kyiv on Monday. Schoof said two more launchers would follow."),
        "uk": ("Зеленський закликав Китаю діалог", "Президент Володимир Зеленський закликав Китай підтримати формули миру. Україна чекає."),
        "el": ("Ο Κινέζος πρόεδρος στη Μόσχα", "Ο Κινέζος πρόεδρος συναντήθηκε με τον Ρώσο πρόεδρο στη Μόσχα. Η Κίνα και η Ρωσία υπέγραψαν."),
        "zh": ("习近平访问莫斯科", "普京在克里姆林宫会见习近平。中国和俄罗斯签署协议。"),
        "ar": ("بوتين يلتقي شي في موسكو", "التقى بوتين مع الرئيس الصيني في موسكو. روسيا والصين وقعتا اتفاقيات."),
    }
    lines = [json.dumps({"id": f"ml-{lang}", "source": {"id": "ml", "name": "ML"}, "url": f"https://ml.example/{lang}",
                         "title": title, "body": body, "language": lang, "published_at": "2025-03-01T12:00:00Z"},
                        ensure_ascii=False) for lang, (title, body) in texts.items()]
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "on", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    items = [json.loads(line) for line in done.stdout.splitlines()]
    for item in items:
        validate("processed_item", item)
    got = {item["language"]: sorted((e["name"], e["origin"]) for e in item["entities"]) for item in items}
    assert got == {
        "en": [("Dick Schoof", "ner"), ("Dutch", "ner"), ("Kyiv", "gazetteer"), ("Volodymyr Zelensky", "watchlist")],
        "uk": [("China", "gazetteer"), ("Ukraine", "gazetteer"), ("Volodymyr Zelensky", "watchlist")],
        "el": [("China", "gazetteer"), ("Moscow", "gazetteer"), ("Russia", "gazetteer")],
        "zh": [("China", "gazetteer"), ("Kremlin", "watchlist"), ("Moscow", "gazetteer"), ("Russia", "gazetteer"),
               ("Vladimir Putin", "watchlist"), ("Xi Jinping", "watchlist")],
        # "والصين" (and China) is one token: Arabic prefixes are not split off, so China is not found there
        "ar": [("Moscow", "gazetteer"), ("Russia", "gazetteer"), ("Vladimir Putin", "watchlist")],
    }
    schoof = next(e for e in map(json.loads, done.stdout.splitlines()) if e["language"] == "en")["entities"]
    # the ALL CAPS title counts for the name NER found in the body, and the surname alone too
    assert [(e["count"], e["mentions"]) for e in schoof if e["name"] == "Dick Schoof"] == [(3, ["dick schoof", "schoof"])]
