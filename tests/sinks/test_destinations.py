"""destinations.yaml, webhook bodies and the signature scheme (no services needed)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.sinks.destinations import (
    load_destinations,
    render_body,
    request_headers,
    signature,
    verify_signature,
)

from .helpers import FIXTURES


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"id":"r:s"}'
    expected = hmac.new(b"key", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(b"key", 1700000000, body) == f"sha256={expected}"


def test_verify_rejects_tampering_wrong_secret_and_stale_timestamps():
    body = b'{"id":"r:s"}'
    good = signature(b"key", 1700000000, body)
    assert verify_signature(b"key", "1700000000", body, good, now=1700000100)
    assert not verify_signature(b"key", "1700000000", body + b" ", good, now=1700000100)
    assert not verify_signature(b"other", "1700000000", body, good, now=1700000100)
    assert not verify_signature(b"key", "1700000000", body, good, now=1700000000 + 301)
    assert not verify_signature(b"key", "not-a-number", body, good, now=1700000000)


def test_destinations_file_and_headers(tmp_path: Path, alerts):
    path = tmp_path / "d.yaml"
    path.write_text((FIXTURES / "destinations.yaml").read_text("utf-8").replace("{receiver}", "http://127.0.0.1:1"))
    dests = load_destinations(path, {"WW_TEST_DESK_SECRET": "k"})
    assert sorted(dests) == ["archive", "chat", "desk"]
    desk = dests["desk"]
    assert (desk.timeout, desk.retries, desk.backoff.base, desk.backoff.cap) == (0.5, 4, 0.05, 0.2)
    assert desk.limiter is not None and desk.limiter.rate == 100.0
    body = render_body(alerts[0], "json")
    assert json.loads(body) == alerts[0]
    headers = request_headers(desk, alerts[0]["id"], body, now=1700000000)
    assert headers["Idempotency-Key"] == "putin-warrant:bbc:1001"
    assert headers["X-Wirewatch-Timestamp"] == "1700000000"
    assert headers["X-Wirewatch-Signature"] == signature(b"k", 1700000000, body)
    assert "X-Wirewatch-Signature" not in request_headers(dests["archive"], "a", body)


def test_slack_body_has_text_and_blocks(alerts):
    message = json.loads(render_body(alerts[2], "slack"))
    assert message["text"] == "[floods] Zürich floods: rescuers reach all stranded residents (The Guardian)"
    assert message["blocks"][0]["text"]["text"] == (
        "*<https://guardian.example/live/5#b1|Zürich floods: rescuers reach all stranded residents>*")
    assert "update (revision 2)" in message["blocks"][-1]["elements"][0]["text"]


def test_missing_secret_variable_is_a_config_error(tmp_path: Path):
    path = tmp_path / "d.yaml"
    path.write_text("destinations:\n  desk:\n    url: http://127.0.0.1:1/x\n    secret_env: NOPE_NOT_SET\n")
    with pytest.raises(ConfigError, match=r"destinations.desk.secret_env: environment variable NOPE_NOT_SET is not set"):
        load_destinations(path, {})
