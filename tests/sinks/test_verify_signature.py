"""``verify_signature`` against hostile requests: False for every malformed input, never an exception.

A receiver hands it header values straight from the request (``None`` when a header is
missing, any text or bytes a client cares to send); the only True is the exact pair the
notifier sent, within the tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from wirewatch.sinks.destinations import Destination, request_headers, signature, verify_signature

SECRET = b"desk-secret"
NOW = 1_700_000_000
BODY = b'{"id":"quake:wire:1","title":"Quake"}'
GOOD_TS = str(NOW)
GOOD_SIG = signature(SECRET, NOW, BODY)

#: bounded fuzzing: a fixed seed and ~2 s in ``make test``; a longer run sets WIREWATCH_FUZZ_EXAMPLES
#: (CONTRIBUTING.md, "Fuzzing")
FUZZ = settings(max_examples=int(os.environ.get("WIREWATCH_FUZZ_EXAMPLES", "2000")), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

#: anything a request, a framework or a careless caller can hand over
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.just(bytearray(b"123")),
    st.just(object()),
)


def test_the_notifiers_own_signature_verifies():
    assert verify_signature(SECRET, GOOD_TS, BODY, GOOD_SIG, now=NOW + 299)
    assert verify_signature(SECRET, GOOD_TS.encode(), BODY, GOOD_SIG.encode(), now=NOW)  # raw header bytes
    assert verify_signature(SECRET.decode(), GOOD_TS, BODY, GOOD_SIG, now=NOW)  # the secret as its env text
    assert verify_signature(SECRET, GOOD_TS, bytearray(BODY), GOOD_SIG, now=NOW)
    assert verify_signature(SECRET, GOOD_TS, memoryview(BODY), GOOD_SIG, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "header"),
    [
        (None, GOOD_SIG),  # header missing
        (GOOD_TS, None),
        (None, None),
        ("", GOOD_SIG),
        (GOOD_TS, ""),
        (GOOD_TS, GOOD_SIG[:-1] + "é"),  # non-ASCII signature: hmac.compare_digest raises TypeError
        (GOOD_TS, "sha256=" + "é" * 64),
        (GOOD_TS, GOOD_SIG + "\u00a0"),
        ("1700000000\u00a0", GOOD_SIG),
        (GOOD_TS, GOOD_SIG.upper()),
        (GOOD_TS, GOOD_SIG[len("sha256="):]),  # no scheme
        (GOOD_TS, "sha1=" + GOOD_SIG[len("sha256="):]),
        (GOOD_TS, GOOD_SIG[:-2]),  # wrong length
        (GOOD_TS, GOOD_SIG + "00"),
        (GOOD_TS, "sha256=" + "zz" * 32),  # not hex
        (GOOD_TS, f" {GOOD_SIG}"),
        (GOOD_TS, GOOD_SIG.encode("utf-16")),  # bytes that are not ASCII
        (GOOD_TS, "sha256=" + "0" * 10_000),  # huge
        ("-1", GOOD_SIG),
        ("1e9", GOOD_SIG),
        ("1700000000.0", GOOD_SIG),
        ("NaN", GOOD_SIG),
        ("inf", GOOD_SIG),
        ("9" * 5000, GOOD_SIG),  # int() refuses > 4300 digits with ValueError; bigger still below
        ("9" * 100_000, GOOD_SIG),
        (f"+{GOOD_TS}", GOOD_SIG),  # int() accepts these spellings of the same number:
        (f" {GOOD_TS} ", GOOD_SIG),  # the signed text is the header as sent, so they fail
        (f"0{GOOD_TS}", GOOD_SIG),
        ("1_700_000_000", GOOD_SIG),
        ("١٧٠٠٠٠٠٠٠٠", GOOD_SIG),  # Arabic-Indic digits: int() reads 1700000000
        (NOW, GOOD_SIG),  # not text: an int, a float, a list
        (float(NOW), GOOD_SIG),
        ([GOOD_TS], GOOD_SIG),
        (GOOD_TS, [GOOD_SIG]),
        (GOOD_TS, 12345),
    ],
)
def test_malformed_timestamp_or_signature_is_false(timestamp: Any, header: Any):
    assert verify_signature(SECRET, timestamp, BODY, header, now=NOW) is False


@pytest.mark.parametrize("body", [None, BODY.decode(), 12, [BODY]])
def test_a_body_that_is_not_bytes_is_false(body: Any):
    assert verify_signature(SECRET, GOOD_TS, body, GOOD_SIG, now=NOW) is False


@pytest.mark.parametrize("secret", [None, 12, ["k"], "é-not-the-key"])
def test_an_unusable_or_wrong_secret_is_false(secret: Any):
    assert verify_signature(secret, GOOD_TS, BODY, GOOD_SIG, now=NOW) is False


def test_stale_and_future_timestamps_are_false():
    assert not verify_signature(SECRET, GOOD_TS, BODY, GOOD_SIG, now=NOW + 301)
    assert not verify_signature(SECRET, GOOD_TS, BODY, GOOD_SIG, now=NOW - 301)
    assert not verify_signature(SECRET, GOOD_TS, BODY, GOOD_SIG, now=NOW, tolerance=float("nan"))


@seed(20261204)
@FUZZ
@given(secret=ANY_VALUE, timestamp=ANY_VALUE, body=ANY_VALUE, header=ANY_VALUE)
def test_fuzz_any_inputs_give_false_never_an_exception(secret: Any, timestamp: Any, body: Any, header: Any):
    assert verify_signature(secret, timestamp, body, header, now=NOW) is False


@seed(20261204)
@FUZZ
@given(timestamp=st.text(max_size=40) | st.binary(max_size=40), header=st.text(max_size=90) | st.binary(max_size=90))
def test_fuzz_header_values_give_false_unless_they_are_the_sent_pair(timestamp: str | bytes, header: str | bytes):
    expected = (timestamp in (GOOD_TS, GOOD_TS.encode())) and (header in (GOOD_SIG, GOOD_SIG.encode()))
    assert verify_signature(SECRET, timestamp, BODY, header, now=NOW) is expected


@seed(20261204)
@FUZZ
@given(position=st.integers(0, len(GOOD_SIG)), junk=st.text(min_size=1, max_size=3), cut=st.integers(0, 3))
def test_fuzz_edits_of_a_valid_signature_are_false(position: int, junk: str, cut: int):
    edited = GOOD_SIG[:position] + junk + GOOD_SIG[position + cut:]
    assert verify_signature(SECRET, GOOD_TS, BODY, edited, now=NOW) is (edited == GOOD_SIG)


@seed(20261204)
@FUZZ
@given(secret=st.binary(max_size=64), body=st.binary(max_size=2048), skew=st.integers(-300, 300))
def test_fuzz_every_signed_request_within_tolerance_verifies(secret: bytes, body: bytes, skew: int):
    expected = "sha256=" + hmac.new(secret, f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert verify_signature(secret, str(NOW), body, expected, now=NOW + skew)


# The receiver README.md shows ("Webhooks: destinations.yaml"), run for real on loopback.

def make_receiver(secret: bytes, seen: list[bytes]) -> web.Application:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_signature(secret, request.headers.get("X-Wirewatch-Timestamp"), body,
                                request.headers.get("X-Wirewatch-Signature")):
            return web.Response(status=401)
        seen.append(body)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/wirewatch", webhook)
    return app


async def test_the_documented_receiver_accepts_signed_requests_and_answers_401_to_hostile_ones():
    seen: list[bytes] = []
    runner = web.AppRunner(make_receiver(SECRET, seen))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/wirewatch"
    desk = Destination(name="desk", url=url, secret=SECRET)
    try:
        async with httpx.AsyncClient() as client:
            signed = request_headers(desk, "quake:wire:1", BODY)
            assert (await client.post(url, content=BODY, headers=signed)).status_code == 204
            hostile: list[dict[str, Any]] = [
                {},  # neither header
                {"X-Wirewatch-Timestamp": signed["X-Wirewatch-Timestamp"]},
                {"X-Wirewatch-Signature": signed["X-Wirewatch-Signature"]},
                {**signed, "X-Wirewatch-Signature": "sha256=é".encode()},  # non-ASCII bytes on the wire
                {**signed, "X-Wirewatch-Timestamp": "١٧٠٠".encode()},
                {**signed, "X-Wirewatch-Timestamp": "9" * 5000},
                {**signed, "X-Wirewatch-Signature": signed["X-Wirewatch-Signature"][:-1].encode() + b"\xff"},
            ]
            statuses = [(await client.post(url, content=BODY, headers=h)).status_code for h in hostile]
    finally:
        await runner.cleanup()
    assert statuses == [401] * len(hostile)
    assert seen == [BODY]
