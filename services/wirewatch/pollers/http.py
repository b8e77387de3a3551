"""A polite, defensive async HTTP fetcher for feeds and live-blog pages.

Why not plain ``httpx.get``: the web serves slow, huge, compressed-bomb,
rate-limited and redirect-to-metadata-service responses, and one bad source
must never stall or crash the others. So every fetch:

* goes through a per-host gate (concurrency limit + minimum delay between
  requests, and a "not before" time set by ``Retry-After`` on 429/503);
* sends an honest User-Agent and conditional headers (ETag/Last-Modified);
* follows redirects itself, to a limit, refusing any hop to a link-local,
  multicast or reserved address (169.254.169.254) and any public -> private
  or loopback transition, checked on resolved IPs *before* connecting;
* decompresses gzip/deflate/br itself while streaming, counting the
  *decompressed* bytes against the size cap, so a gzip bomb stops after cap
  bytes instead of filling memory;
* has connect/read timeouts and a total deadline;
* applies a source's own settings (:class:`SourceFetch`: User-Agent, headers,
  cookies, proxy, slower host delay, timeout), with one pooled client per
  distinct proxy;
* returns a typed :class:`FetchOutcome`, never raises for web trouble.

Known limit: the resolved address is checked, then httpx resolves again to
connect (a DNS-rebinding window). Pinning would need a custom transport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urljoin, urlsplit

import brotli
import httpx

from wirewatch.core.retry import parse_retry_after

OutcomeKind = Literal[
    "ok",
    "not_modified",
    "timeout",
    "http_status",
    "too_large",
    "redirect_refused",
    "too_many_redirects",
    "decode",
    "parse",
    "network",
    "deferred",
    "proxy",
]

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16384
_MAX_RETRY_AFTER = 6 * 3600.0


@dataclass(frozen=True)
class FetchOutcome:
    """What one fetch produced: content, ``not_modified``, or a typed failure."""

    url: str
    kind: OutcomeKind
    reason: str = ""
    status: int | None = None
    final_url: str = ""
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind in ("ok", "not_modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetcher; defaults suit public news sites."""

    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    min_host_delay: float = 1.0
    max_gate_wait: float = 30.0
    """A fetch that would wait longer than this for its host returns ``deferred``."""


@dataclass(frozen=True)
class SourceFetch:
    """One source's own fetch settings (``sources.yaml``); None/empty = the fetcher's defaults."""

    user_agent: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """``(name, value)``; values are secrets (from environment variables): never in a repr or log."""
    proxy: str | None = None
    min_host_delay: float | None = None
    """Seconds between requests to the host after this source's request; only ever slower."""
    timeout: float | None = None
    """Total deadline of one fetch, and its read timeout (connect stays capped by the global one)."""


NO_SETTINGS = SourceFetch()


def redact_proxy(url: str) -> str:
    """A proxy URL fit for logs and errors: any ``user:password@`` replaced by ``***@``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"


class Fetch(Protocol):
    """What the poller needs from a fetcher (tests and embedded mode may swap it)."""

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        settings: SourceFetch = NO_SETTINGS,
    ) -> FetchOutcome: ...


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    pass


class _HostGate:
    """Concurrency and pacing for one ``host:port``."""

    def __init__(self, concurrency: int) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.lock = asyncio.Lock()
        self.not_before = 0.0


# --- addresses ----------------------------------------------------------------------------

Zone = Literal["global", "private", "loopback", "forbidden"]


def address_zone(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Zone:
    """Classify an address; link-local (cloud metadata), multicast and reserved are forbidden."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "forbidden"
    if ip.is_loopback:
        return "loopback"
    if ip.is_global:
        return "global"
    return "private"


async def resolve_zone(host: str) -> Zone:
    """The least public zone among ``host``'s addresses (IP literals are not looked up)."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    order: dict[Zone, int] = {"global": 0, "private": 1, "loopback": 2, "forbidden": 3}
    return max((address_zone(a) for a in addresses), key=order.__getitem__, default="forbidden")


def redirect_allowed(origin: Zone, target: Zone) -> bool:
    """Public targets are fine; otherwise only within the origin's own zone, never forbidden."""
    if target == "forbidden":
        return False
    return target == "global" or target == origin


# --- decompression --------------------------------------------------------------------------


class _Decoder:
    """Streaming decoder for one Content-Encoding that never yields more than the cap."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.encoding = encoding
        self.cap = cap
        self.size = 0
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = None  # chosen on the first chunk: zlib-wrapped or raw
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.cap:
            raise _TooLarge
        return piece

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "deflate" and self._zlib is None:
            self._zlib = zlib.decompressobj(
                zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS
            )
        if self._zlib is not None:
            out: list[bytes] = []
            buf = data
            while True:
                out.append(self._count(self._zlib.decompress(buf, 65536)))
                buf = self._zlib.unconsumed_tail
                if not buf:
                    return b"".join(out)
        if self._brotli is not None:
            out = [self._count(self._brotli.process(data, output_buffer_limit=65536))]
            while not self._brotli.can_accept_more_data():
                out.append(self._count(self._brotli.process(b"", output_buffer_limit=65536)))
            return b"".join(out)
        return self._count(data)


# --- the fetcher ----------------------------------------------------------------------------


class Fetcher:
    """Async fetcher sharing connection pools and per-host gates across sources.

    Pools: one httpx client for direct fetches and one per distinct ``proxy`` URL, made on
    first use and kept until :meth:`aclose` (httpx binds a proxy to a client, not to a
    request). Sources naming the same proxy share its pool; the host gates are shared by
    all clients, so a proxy never loosens politeness towards a host.
    """

    def __init__(
        self, policy: FetchPolicy, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.policy = policy
        self._transport = transport
        self._gates: dict[str, _HostGate] = {}
        self._clients: dict[str | None, httpx.AsyncClient] = {None: self._new_client(None)}

    def _new_client(self, proxy: str | None) -> httpx.AsyncClient:
        policy = self.policy
        return httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=policy.connect_timeout,
                read=policy.read_timeout,
                write=policy.read_timeout,
                pool=policy.total_timeout,
            ),
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate, br"},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=self._transport,
            proxy=proxy,
            trust_env=False,
        )

    def _client(self, proxy: str | None) -> httpx.AsyncClient:
        client = self._clients.get(proxy)
        if client is None:
            client = self._clients[proxy] = self._new_client(proxy)
        return client

    @property
    def proxies(self) -> list[str]:
        """The proxy URLs with a pool open (redacted), for tests and diagnostics."""
        return sorted(redact_proxy(p) for p in self._clients if p is not None)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _gate(self, url: str) -> _HostGate:
        parts = urlsplit(url)
        key = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _HostGate(self.policy.per_host_concurrency)
        return gate

    async def _wait_turn(self, gate: _HostGate, delay: float) -> float | None:
        """Take the host's pacing slot; returns seconds still to wait if too long (deferred)."""
        async with gate.lock:
            wait = gate.not_before - time.monotonic()
            if wait > self.policy.max_gate_wait:
                return wait
            if wait > 0:
                await asyncio.sleep(wait)
            gate.not_before = max(gate.not_before, time.monotonic() + delay)
        return None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        settings: SourceFetch = NO_SETTINGS,
    ) -> FetchOutcome:
        """GET ``url`` politely with the source's ``settings``; failures come back as typed outcomes."""
        started = time.monotonic()

        def done(kind: OutcomeKind, reason: str = "", **kw: object) -> FetchOutcome:
            return FetchOutcome(url, kind, reason, elapsed=time.monotonic() - started, **kw)  # type: ignore[arg-type]

        headers: dict[str, str] = {
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
        }
        headers.update(settings.headers)
        if settings.user_agent:
            headers["User-Agent"] = settings.user_agent
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        total = settings.timeout if settings.timeout is not None else self.policy.total_timeout
        via = f"proxy {redact_proxy(settings.proxy)}" if settings.proxy else ""
        try:
            async with asyncio.timeout(total):
                return await self._follow(url, headers, done, settings, total)
        except TimeoutError:
            return done("timeout", f"no complete response within {total:g}s")
        except (httpx.ProxyError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if via:  # with a proxy, every connection made is to the proxy
                return done("proxy", f"{via} failed: {type(exc).__name__}: {exc}".rstrip(": "))
            if isinstance(exc, httpx.ConnectTimeout):
                return done("timeout", f"{type(exc).__name__}: {exc}".rstrip(": "))
            return done("network", f"{type(exc).__name__}: {exc}".rstrip(": "))
        except httpx.TimeoutException as exc:
            return done("timeout", f"{type(exc).__name__}: {exc}".rstrip(": "))
        except _TooLarge:
            return done(
                "too_large", f"response exceeds {self.policy.max_bytes} bytes (decompressed)"
            )
        except _Refused as exc:
            return done("redirect_refused", str(exc))
        except (httpx.TransportError, OSError) as exc:
            return done("network", f"{type(exc).__name__}: {exc}".rstrip(": "))
        except (zlib.error, brotli.error) as exc:
            return done("decode", f"bad compressed body: {exc}")
        except ValueError as exc:
            return done("decode", str(exc))
        except httpx.HTTPError as exc:
            return done("network", f"{type(exc).__name__}: {exc}".rstrip(": "))

    async def _follow(
        self, url: str, headers: dict[str, str], done: _Done, settings: SourceFetch, total: float
    ) -> FetchOutcome:
        current = url
        origin: Zone | None = None
        first_host = urlsplit(url).hostname
        cookie = "; ".join(f"{name}={value}" for name, value in settings.cookies)
        delay = max(self.policy.min_host_delay, settings.min_host_delay or 0.0)
        client = self._client(settings.proxy)
        # A source's own timeout is its whole budget: reads may wait that long too (a slow
        # publisher), connecting never longer than the global connect timeout.
        read = total if settings.timeout is not None else min(self.policy.read_timeout, total)
        timeout = httpx.Timeout(
            connect=min(self.policy.connect_timeout, total), read=read, write=read, pool=total
        )
        for hop in range(self.policy.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _Refused(f"refused redirect to non-HTTP URL {current!r}")
            zone = await resolve_zone(parts.hostname)
            if origin is None:
                origin = zone
                if zone == "forbidden":
                    raise _Refused(f"refused {parts.hostname}: link-local/reserved address")
            elif not redirect_allowed(origin, zone):
                raise _Refused(f"refused redirect from a {origin} address to {current} ({zone})")
            hop_headers = dict(headers)
            if parts.hostname != first_host:
                hop_headers.pop("Authorization", None)  # as httpx does on cross-host redirects
            elif cookie:  # cookies go to the host they were configured for, never elsewhere
                hop_headers["Cookie"] = cookie
            gate = self._gate(current)
            async with gate.semaphore:
                deferred = await self._wait_turn(gate, delay)
                if deferred is not None:
                    return done(
                        "deferred", f"host asked to wait {deferred:.0f}s more", retry_after=deferred
                    )
                result = await self._request(client, current, hop_headers, timeout, gate, done)
            if isinstance(result, str):
                if hop == self.policy.max_redirects:
                    break
                current = result
                continue
            return result
        return done("too_many_redirects", f"more than {self.policy.max_redirects} redirects")

    async def _request(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        timeout: httpx.Timeout,
        gate: _HostGate,
        done: _Done,
    ) -> FetchOutcome | str:
        """One GET; returns the next URL for a redirect."""
        async with client.stream("GET", url, headers=headers, timeout=timeout) as resp:
            status = resp.status_code
            if status in REDIRECT_CODES and resp.headers.get("location"):
                return urljoin(url, resp.headers["location"])
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            if status == 304:
                return done("not_modified", status=status, final_url=url, headers=resp_headers)
            if status in (429, 503):
                wait = parse_retry_after(resp.headers.get("retry-after"), _MAX_RETRY_AFTER)
                if wait is not None:
                    gate.not_before = max(gate.not_before, time.monotonic() + wait)
                return done(
                    "http_status",
                    f"HTTP {status}" + (f", Retry-After {wait:.0f}s" if wait is not None else ""),
                    status=status,
                    final_url=url,
                    headers=resp_headers,
                    retry_after=wait,
                )
            if status >= 400 or status < 200:
                return done(
                    "http_status",
                    f"HTTP {status}",
                    status=status,
                    final_url=url,
                    headers=resp_headers,
                )
            content = await self._read_body(resp)
            return done("ok", status=status, final_url=url, content=content, headers=resp_headers)

    async def _read_body(self, resp: httpx.Response) -> bytes:
        cap = self.policy.max_bytes
        encoding = resp.headers.get("content-encoding", "").strip().lower()
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise _TooLarge
        decoder = _Decoder(encoding, cap)
        raw_size = 0
        chunks: list[bytes] = []
        async for chunk in resp.aiter_raw(_CHUNK):
            raw_size += len(chunk)
            if raw_size > cap:
                raise _TooLarge
            chunks.append(decoder.feed(chunk))
        return b"".join(chunks)


class _Done(Protocol):
    def __call__(self, kind: OutcomeKind, reason: str = "", **kw: object) -> FetchOutcome: ...


# --- text decoding ------------------------------------------------------------------------

_CHARSET_HEADER = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_XML_PROLOG = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    replaced: bool
    """True when bytes invalid in ``encoding`` were replaced by U+FFFD."""


def declared_charset(content: bytes, content_type: str = "") -> str | None:
    """Charset from BOM, then HTTP header, then XML prolog, then HTML ``<meta>``."""
    for bom, bom_name in _BOMS:
        if content.startswith(bom):
            return bom_name
    for found in (
        _CHARSET_HEADER.search(content_type),
        _XML_PROLOG.search(content[:1024]),
        _META_CHARSET.search(content[:4096]),
    ):
        if found:
            value: str | bytes = found.group(1)
            return value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return None


def decode_text(content: bytes, content_type: str = "") -> DecodedText:
    """Bytes -> str using the declared charset, else UTF-8, else windows-1252 (WHATWG default)."""
    declared = declared_charset(content, content_type)
    if declared:
        try:
            return DecodedText(content.decode(declared), declared, False)
        except UnicodeDecodeError:
            return DecodedText(content.decode(declared, errors="replace"), declared, True)
        except LookupError:
            pass  # unknown charset name: guess below
    try:
        return DecodedText(content.decode("utf-8"), "utf-8", False)
    except UnicodeDecodeError:
        return DecodedText(content.decode("windows-1252", errors="replace"), "windows-1252", False)
