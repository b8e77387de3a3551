"""Reaching Kafka and Elasticsearch: one clear line when they are not there, then retries.

A client library that cannot connect says so its own way (aiokafka: a traceback
ending ``Unable to bootstrap from [...]``; elastic_transport: three warnings).
Wirewatch says it once, naming the setting to fix and the address it tried::

    cannot reach Kafka at 127.0.0.1:1 (WIREWATCH_KAFKA_BOOTSTRAP): connection refused

The reason comes from a plain TCP connect to the address (the libraries' own
exceptions do not carry it in one form). One-shot commands end on that line
(:class:`Unreachable` is a :class:`WirewatchError`: exit 2); long-running
services call :func:`until_reachable`, which logs it with ``; retrying in N s``
and tries again with capped, jittered exponential back-off
(``WIREWATCH_CONNECT_RETRY_MAX``, default 30 s) until it connects or they are
told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence

from wirewatch.core.config import Settings
from wirewatch.core.errors import WirewatchError
from wirewatch.core.logging import get_logger
from wirewatch.core.retry import Backoff

log = get_logger("connect")

#: Seconds the TCP probe waits for a connection before calling the address silent.
PROBE_SECONDS = 3.0


class Unreachable(WirewatchError):
    """A service Wirewatch needs does not answer: ``cannot reach <service> at <address> (<setting>): <reason>``."""

    def __init__(self, service: str, setting: str, address: str, reason: str) -> None:
        self.service = service
        self.setting = setting
        self.address = address
        self.reason = reason
        super().__init__(f"cannot reach {service} at {address} ({setting}): {reason}")


def connect_backoff(settings: Settings) -> Backoff:
    """1-2 s, 2-4 s, 4-8 s ... up to ``WIREWATCH_CONNECT_RETRY_MAX`` (equal jitter: the doubling stays visible)."""
    cap = max(0.05, settings.connect_retry_max.total_seconds())
    return Backoff(base=2.0, cap=cap, jitter=0.5)


def _seconds(delay: float) -> str:
    return f"{delay:.1f} s" if delay < 10 else f"{delay:.0f} s"


async def until_reachable(
    attempt: Callable[[], Awaitable[object]], settings: Settings, stop: asyncio.Event | None = None
) -> bool:
    """Run ``attempt`` until it raises no :class:`Unreachable`; False if ``stop`` was set first.

    Each failure is one warning, the :class:`Unreachable` line plus ``; retrying in N s``;
    success after a failure is one info line ``connected to <service> at <address>``.
    """
    backoff = connect_backoff(settings)
    failed: Unreachable | None = None
    attempts = 0
    while stop is None or not stop.is_set():
        try:
            await attempt()
        except Unreachable as exc:
            delay = backoff.delay(attempts)
            attempts += 1
            failed = exc
            log.warning(f"{exc}; retrying in {_seconds(delay)}")
            if stop is None:
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            continue
        if failed is not None:
            log.info(f"connected to {failed.service} at {failed.address}")
        return True
    return False


async def until_reachable_or_signalled(attempt: Callable[[], Awaitable[object]], settings: Settings) -> bool:
    """:func:`until_reachable`, stopped by SIGINT or SIGTERM (False then: the caller exits cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        return await until_reachable(attempt, settings, stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def tcp_failure(host: str, port: int, timeout: float = PROBE_SECONDS) -> str | None:
    """Why a TCP connection to ``host:port`` fails (``connection refused``...), or None if it opens."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except socket.gaierror as exc:
        return f"unknown host {host} ({(exc.strerror or str(exc)).lower()})"
    except OSError as exc:
        return os_reason(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


def os_reason(exc: OSError) -> str:
    """``[Errno 111] Connect call failed (...)`` -> ``connection refused`` (also for several addresses alike)."""
    codes = {exc.errno} if exc.errno else {int(n) for n in re.findall(r"\[Errno (\d+)\]", str(exc))}
    if len(codes) == 1:
        text = os.strerror(codes.pop())
        return text[:1].lower() + text[1:]
    return str(exc) or type(exc).__name__


async def failure_of(addresses: Sequence[tuple[str, int]]) -> str | None:
    """The TCP failure of every address, one reason when they agree; None if any opens."""
    reasons = await asyncio.gather(*(tcp_failure(host, port) for host, port in addresses))
    if not addresses or any(reason is None for reason in reasons):
        return None
    distinct = set(reasons)
    if len(distinct) == 1:
        return str(reasons[0])
    return "; ".join(f"{host}:{port}: {reason}" for (host, port), reason in zip(addresses, reasons, strict=True))


def host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host:port`` / ``[::1]:port`` / ``host`` -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    try:
        return host, int(port) if port else default_port
    except ValueError:
        return host, default_port
