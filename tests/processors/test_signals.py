"""Spike, new-entity and silence rules in the processing core, on an injected clock (processing time)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.config import parse_duration
from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor, validate_raw
from wirewatch.processors.rules import load_rules
from wirewatch.processors.signals import state_key

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC).timestamp()
CITIES = ["Rotterdam", "Antwerp", "Hamburg", "Lisbon", "Marseille"]

RULES = """\
rules:
  - id: port-strike
    query: strike
  - id: zelensky-spike
    kind: spike
    entity: Volodymyr Zelensky
    window: 1h
    baseline: 4h
    min_count: 3
    factor: 3
  - id: new-port-city
    kind: new_entity
    query: port
    types: [place]
    learn: 1h
    max_entities: 3
  - id: wire-quiet
    kind: silence
    source: wire
    for: 2h
"""


def item(n: int, *, source: str = "wire", title: str | None = None, body: str | None = None) -> dict[str, Any]:
    """A distinct story (dedupe says new) in a real item's shape."""
    words = ["harbour", "cranes", "union", "vote", "cargo", "ships", "queue", "talks", "wages", "night"]
    text = " ".join(words[(n * 7 + i) % len(words)] + str(n) for i in range(25))
    return validate_raw({
        "id": f"{source}-{n}", "source": {"id": source, "name": source.title()},
        "url": f"https://{source}.example/{n}", "title": title or f"Story number {n} about {words[n % 10]}",
        "body": body or f"Report {n}: {text}.", "published_at": "2026-11-30T23:00:00Z",
    })


def zelensky(n: int) -> dict[str, Any]:
    return item(n, title=f"Zelensky meets envoys in round {n}")


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


def make(tagger: EntityTagger, tmp_path: Path, store: dict[str, Any] | None = None, rules: str = RULES) -> Processor:
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    return Processor(load_rules(path), tagger, Deduper(store if store is not None else {}))


def at(minutes: float) -> datetime:
    return datetime.fromtimestamp(T0 + minutes * 60, UTC)


def run(processor: Processor, raws: list[dict[str, Any]], minutes: float) -> list[dict[str, Any]]:
    """One batch at ``minutes`` after T0; the alerts it raised (schema-checked)."""
    results = processor.finish_batch(processor.enrich_batch(raws), at(minutes))
    alerts = [a for r in results for a in r.alerts]
    for alert in alerts:
        validate("alert", alert)
    for result in results:
        validate("processed_item", result.item)
    return alerts


def kinds(alerts: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a.get("kind") == kind]


def test_a_spike_fires_once_per_crossing_with_its_figures(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    run(p, [item(0)], 0)  # the rule starts watching
    n = 0
    for minute in (60, 120, 180, 240):  # one mention an hour for the 4 h baseline
        n += 1
        assert kinds(run(p, [zelensky(n)], minute), "spike") == []
    fired = []
    for minute in (300, 305, 310, 315, 320):  # then 5 within the hour
        n += 1
        fired.append(kinds(run(p, [zelensky(n)], minute), "spike"))
    # baseline: 4 mentions in 4 h -> expected 1.0 an hour; 3 is min_count and 3x expected
    assert [len(f) for f in fired] == [0, 0, 1, 0, 0]
    alert = fired[2][0]
    # the window: 12 five-minute buckets ending with the one of minute 310 (minutes 255 to 315)
    assert alert["id"] == "zelensky-spike:spike:2026-12-01T04:15:00.000Z"
    assert alert["kind"] == "spike" and alert["item_id"] == "wire-7"
    assert alert["event_id"] == alert["story_id"] == "wire-7"  # a new item: its own story and event
    assert alert["figures"] == {"count": 3, "window_seconds": 3600.0, "baseline_count": 4,
                                "baseline_seconds": 14400.0, "expected": 1.0, "factor": 3.0}
    assert alert["title"] == ("Spike: 3 items on Volodymyr Zelensky in 1h 0m (expected 1.0): "
                              "Zelensky meets envoys in round 7")


def test_a_spike_re_arms_when_it_falls_back_below(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    run(p, [item(0)], 0)
    ids = []
    for n, minute in enumerate((300, 301, 302, 303, 500, 501, 502), start=1):  # no baseline mentions: min_count decides
        ids += [a["id"] for a in kinds(run(p, [zelensky(n)], minute), "spike")]
    assert ids == ["zelensky-spike:spike:2026-12-01T04:05:00.000Z", "zelensky-spike:spike:2026-12-01T07:25:00.000Z"]


def test_no_spike_before_a_full_baseline_was_watched(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    run(p, [item(0)], 0)  # the rule starts watching at minute 0
    alerts = [a for i in range(1, 6) for a in kinds(run(p, [zelensky(i)], 280 + i), "spike")]
    assert alerts == []  # 5 mentions, but the window's baseline (4 h before it) began before minute 0
    assert len(kinds(run(p, [zelensky(6)], 300), "spike")) == 1  # the window from minute 245 has a full one


def test_new_entities_are_learned_then_alerted_once(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    learned = run(p, [item(1, title="Port strike spreads to Rotterdam")], 10)
    assert kinds(learned, "new_entity") == []  # within learn: 1h, learned silently
    first = kinds(run(p, [item(2, title="Port of Antwerp halts as Rotterdam waits, Zelensky says")], 70),
                  "new_entity")
    assert [(a["id"], a["figures"]) for a in first] == [
        ("new-port-city:new_entity:antwerp", {"entity": "Antwerp", "type": "GPE", "first_item": "wire-2"})]
    assert kinds(run(p, [item(3, title="Antwerp port reopens")], 80), "new_entity") == []
    assert [a["figures"]["entity"] for a in kinds(run(p, [item(4, title="Hamburg port talks")], 90), "new_entity")] \
        == ["Hamburg"]
    assert kinds(run(p, [item(5, title="Genoa dockers rally")], 95), "new_entity") == []  # no 'port': not watched


def test_new_entity_memory_is_bounded_least_recently_seen_first(tagger: EntityTagger, tmp_path: Path) -> None:
    store: dict[str, Any] = {}
    p = make(tagger, tmp_path, store)
    run(p, [item(0, title="Port quiet")], 0)
    for i, city in enumerate(CITIES[:5], start=1):  # max_entities: 3
        run(p, [item(i, title=f"Port of {city} closes")], 60 + i)
    assert p.signals.entity_count("new-port-city") == 3
    keys = sorted(k for k in store if k.startswith(state_key("n", "new-port-city") + ":"))
    assert keys == [state_key("n", "new-port-city", c) for c in ("hamburg", "lisbon", "marseille")]
    again = kinds(run(p, [item(9, title="Port of Rotterdam closes again")], 80), "new_entity")
    assert [a["figures"]["entity"] for a in again] == ["Rotterdam"]  # forgotten, so new again


def test_learned_entities_expire_after_forget(tagger: EntityTagger, tmp_path: Path) -> None:
    rules = RULES.replace("    max_entities: 3\n", "    forget: 2d\n")
    p = make(tagger, tmp_path, rules=rules)
    run(p, [item(1, title="Port of Rotterdam")], 0)
    assert kinds(run(p, [item(2, title="Port of Rotterdam again")], 24 * 60), "new_entity") == []
    p.signals.maintain(T0 + 3 * 24 * 3600 + 120, force=True)
    assert p.signals.entity_count("new-port-city") == 0  # seen last on day 1, forgotten after 2 days


def test_silence_fires_once_and_re_arms_when_items_come_again(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    run(p, [item(1)], 0)
    assert p.signals.due_silences(T0 + 119 * 60) == []
    due = p.signals.due_silences(T0 + 121 * 60)
    assert [(a["id"], a["figures"]) for a in due] == [(
        "wire-quiet:silence:2026-12-01T00:00:00.000Z",
        {"last_seen": "2026-12-01T00:00:00.000Z", "silent_seconds": 7260.0, "for_seconds": 7200.0,
         "since": "2026-12-01T00:00:00.000Z"})]
    validate("alert", due[0])
    assert due[0]["title"] == "Silence: no items from wire for 2h 1m" and due[0]["item_id"] == "wire-1"
    assert due[0]["event_id"] == "wire-1"  # the last item's
    # not marked until the driver published it: asked again (a crash in between), the same id
    assert [a["id"] for a in p.signals.due_silences(T0 + 122 * 60)] == [due[0]["id"]]
    p.signals.silences_sent(due, T0 + 121 * 60)
    assert p.signals.due_silences(T0 + 300 * 60) == []  # one alert a silence
    run(p, [item(2, source="other")], 301)  # another source does not end it
    assert p.signals.due_silences(T0 + 302 * 60) == []
    run(p, [item(3)], 400)
    again = p.signals.due_silences(T0 + 521 * 60)
    assert [a["id"] for a in again] == ["wire-quiet:silence:2026-12-01T06:40:00.000Z"]


def test_a_source_never_heard_from_is_silent_from_when_the_rule_started(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    run(p, [item(1, source="other")], 0)
    due = p.signals.due_silences(T0 + 180 * 60)
    assert [(a["id"], a["item_id"], a["figures"]["last_seen"]) for a in due] == [
        ("wire-quiet:silence:2026-12-01T00:00:00.000Z", "", None)]
    validate("alert", due[0])


def test_state_survives_a_new_processor_over_the_same_store(tagger: EntityTagger, tmp_path: Path) -> None:
    """What a restart does: a new processor reads counts, fired spikes, entities and silences back."""
    store: dict[str, Any] = {}
    p = make(tagger, tmp_path, store)
    run(p, [item(0)], 0)
    for i, minute in enumerate((300, 301), start=1):
        run(p, [zelensky(i)], minute)
    restarted = make(tagger, tmp_path, store)
    spikes = [kinds(run(restarted, [zelensky(i)], 300 + i), "spike") for i in (3, 4)]
    assert [len(s) for s in spikes] == [1, 0]  # the crossing straddles the restart: fires once
    again = make(tagger, tmp_path, store)
    assert kinds(run(again, [zelensky(5)], 306), "spike") == []  # still over: already fired
    assert [a["id"] for a in again.signals.due_silences(T0 + 306 * 60 + 7201)] == [
        "wire-quiet:silence:2026-12-01T05:06:00.000Z"]


def test_a_redelivered_item_is_not_counted_again_but_gets_its_alert_back(tagger: EntityTagger, tmp_path: Path) -> None:
    p = make(tagger, tmp_path)
    run(p, [item(0)], 0)
    alerts = [kinds(run(p, [zelensky(i)], 300 + i), "spike") for i in (1, 2, 3)]
    assert [len(a) for a in alerts] == [0, 0, 1]
    replay = kinds(run(p, [zelensky(3)], 312), "spike")  # at-least-once: the same message again
    assert [a["id"] for a in replay] == [alerts[2][0]["id"]]
    assert kinds(run(p, [zelensky(2)], 312), "spike") == []
    assert p.signals._spikes["zelensky-spike"].sums(int((T0 + 312 * 60) // 300)) == (3, 0)


def test_no_signal_rules_means_no_signal_state(tagger: EntityTagger, tmp_path: Path) -> None:
    store: dict[str, Any] = {}
    p = make(tagger, tmp_path, store, rules="rules:\n  - id: port-strike\n    query: strike\n")
    assert not p.signals.active
    run(p, [item(1, title="Port strike")], 0)
    assert not [k for k in store if k.startswith("sig:")]
    assert p.signals.due_silences(T0 + 10**6) == []


def test_a_removed_rule_leaves_no_state_behind(tagger: EntityTagger, tmp_path: Path) -> None:
    store: dict[str, Any] = {}
    p = make(tagger, tmp_path, store)
    run(p, [item(1, title="Port of Rotterdam")], 0)
    assert {k.split(":")[1] for k in store if k.startswith("sig:")} == {"s", "n", "q"}
    kept = make(tagger, tmp_path, store, rules=RULES.split("  - id: new-port-city")[0])  # only the spike left
    run(kept, [item(2)], 1)
    assert {k.split(":")[1] for k in store if k.startswith("sig:")} == {"s"}


def test_learned_entities_and_silences_outlive_the_changelog_purge(tagger: EntityTagger, tmp_path: Path) -> None:
    """On Faust the table drops entries older than the dedupe window (72 h); the upkeep writes
    again what must live longer, so a worker rebuilding from the table still knows it."""
    from wirewatch.processors.faust_app import BatchLog

    table: dict[str, Any] = {}
    memory = BatchLog(table)
    memory.stale = False
    p = make(tagger, tmp_path, memory)  # type: ignore[arg-type]
    day = 24 * 60
    run(p, [item(1, title="Port of Rotterdam")], 0)
    memory.commit(1, T0)
    for d in (1, 2, 3, 4):  # the purge timer's work, once a day here
        now = T0 + d * day * 60
        p.signals.maintain(now, force=True)
        memory.commit_timer(now)
        memory.purge(now - 72 * 3600)
    assert min(entry["t"] for entry in table.values()) > T0  # the first batch's entry is gone
    rebuilt = BatchLog(table)
    rebuilt.rebuild()
    q = make(tagger, tmp_path, rebuilt)  # type: ignore[arg-type]
    silent = q.signals.due_silences(T0 + (4 * day + 1) * 60)
    assert [(a["id"], a["figures"]["last_seen"]) for a in silent] == [
        ("wire-quiet:silence:2026-12-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")]
    assert q.signals.entity_count("new-port-city") == 1  # Rotterdam, learned on day 0
    assert kinds(run(q, [item(2, title="Port of Rotterdam and Antwerp")], 4 * day + 2), "new_entity")[0]["figures"] \
        == {"entity": "Antwerp", "type": "GPE", "first_item": "wire-2"}  # learning ended on day 0, not now


def test_signal_alerts_render_in_every_channel_format(tagger: EntityTagger, tmp_path: Path) -> None:
    """A spike, a new entity and two silences (one with no item at all: empty url) become a
    message in each format; Teams and Discord bodies match the shapes those services document."""
    import json as jsonlib

    from jsonschema import Draft202012Validator

    from wirewatch.sinks.destinations import load_destinations, render_body

    shapes = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"
    checks = {"teams": Draft202012Validator(jsonlib.loads((shapes / "teams_workflow_message.schema.json").read_text())),
              "discord": Draft202012Validator(jsonlib.loads((shapes / "discord_webhook.schema.json").read_text()))}
    p = make(tagger, tmp_path)
    run(p, [item(0, source="other", title="Port quiet")], 0)
    fired = [a for i in (1, 2, 3) for a in run(p, [zelensky(i)], 300 + i)]
    fired += run(p, [item(4, title="Port of Antwerp closes")], 310)
    quiet = make(tagger, tmp_path, rules=RULES.replace("source: wire", "source: reuters"))
    run(quiet, [item(5, source="other")], 0)
    fired += p.signals.due_silences(T0 + 500 * 60) + quiet.signals.due_silences(T0 + 500 * 60)
    assert sorted(a["kind"] for a in fired) == ["new_entity", "silence", "silence", "spike"]
    (tmp_path / "d.yaml").write_text(
        "destinations:\n"
        + "".join(f"  {f}:\n    url: https://hooks.example/{f}\n    format: {f}\n" for f in ("json", "slack", "teams", "discord"))
        + "  mail:\n    format: email\n    from: desk@example.org\n    to: [news@example.org]\n"
          "    smtp: {host: 127.0.0.1, port: 2525, tls: none}\n")
    destinations = load_destinations(tmp_path / "d.yaml")
    for alert in fired:
        for name, destination in destinations.items():
            body = render_body(alert, destination.format, destination)
            assert body
            if name in checks:
                errors = [e.message for e in checks[name].iter_errors(jsonlib.loads(body))]
                assert errors == [], (alert["kind"], name, errors)
        assert jsonlib.loads(render_body(alert, "json"))["figures"] == alert["figures"]


def test_the_readme_example_loads_as_documented(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("## Signal rules: spikes, new entities, silence", 1)[1]
    path = tmp_path / "rules.yaml"
    path.write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    spike, new, quiet = load_rules(path).rules
    assert (spike.kind, spike.match_query, spike.min_count, spike.factor) == ("spike", 'entity:"Vladimir Putin"', 5, 3)
    assert (spike.window.total_seconds() if spike.window else None, spike.baseline) == (3600, parse_duration("24h"))
    assert (new.kind, new.types, new.learn, new.forget, new.max_entities) == (
        "new_entity", ["person", "organisation", "place"], parse_duration("24h"), parse_duration("90d"), 100_000)
    assert (quiet.kind, quiet.source, quiet.silent_for, quiet.match_query) == ("silence", "reuters", parse_duration("2h"), None)


def test_per_and_re_alert_belong_to_query_rules() -> None:
    from pydantic import ValidationError

    from wirewatch.processors.rules import Rule

    assert Rule(id="q", query="strike", per="event", re_alert="1h").per == "event"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="per is for kind query rules, not kind spike"):
        Rule.model_validate({"id": "s", "kind": "spike", "entity": "X", "window": "1h", "baseline": "24h",
                             "per": "event"})
