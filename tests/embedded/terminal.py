"""A command run as a user runs it: in a pseudo-terminal or with pipes, signalled at a chosen
moment; and a small feed server (a growing feed, a source that fails until told to recover)
served from a thread, so the command under test is a real separate process."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from .feeds import GrowingFeed, story

CONTROL = re.compile(r"\x1b\[([0-9;?]*)([ -/]*[@-~])|\x1b[()][A-Za-z0-9]|\r|\n|\x07")


def plain(text: str) -> str:
    """What the terminal shows, scrollback included: colours dropped, and the cursor moves a
    live status line makes (carriage return, cursor up, erase line) applied, so a line printed
    above the status line reads as its own line. Enough of a VT100 for rich's output."""
    rows: list[str] = [""]
    row = col = 0

    def write(chunk: str) -> None:
        nonlocal col
        line = rows[row].ljust(col)
        rows[row] = line[:col] + chunk + line[col + len(chunk):]
        col += len(chunk)

    position = 0
    for match in CONTROL.finditer(text):
        write(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token == "\n":
            row += 1
            col = 0
            if row == len(rows):
                rows.append("")
        elif token == "\r":
            col = 0
        elif match.group(2) == "A":  # cursor up
            row = max(0, row - int(match.group(1) or 1))
        elif match.group(2) == "K":  # erase (2K: the whole line; K: to its end)
            rows[row] = "" if match.group(1) == "2" else rows[row][:col]
    write(text[position:])
    return "\n".join(line.rstrip() for line in rows)


@dataclass
class Finished:
    returncode: int
    output: str
    """Everything written to the terminal (or stdout + stderr), raw."""
    signalled_at: str | None = None
    """The output when the signal was sent (None: never sent)."""

    @property
    def text(self) -> str:
        return plain(self.output)


def _set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def run_in_terminal(
    args: Sequence[str],
    *,
    env: dict[str, str],
    until: Callable[[str], bool],
    signals: Sequence[signal.Signals] = (signal.SIGINT,),
    cwd: str | None = None,
    columns: int = 100,
    timeout: float = 60.0,
    pty: bool = True,
) -> Finished:
    """Start ``args``; once ``until(plain output so far)`` holds, send ``signals`` (0.3 s apart);
    read until it exits. ``pty=False``: stdout and stderr are one pipe instead of a terminal."""
    if pty:
        reader, writer = os.openpty()
        _set_size(writer, 40, columns)
        env = {**env, "COLUMNS": str(columns), "TERM": "xterm-256color"}
        env.pop("NO_COLOR", None)
    else:
        reader, writer = os.pipe()
    process = subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL if not pty else writer, stdout=writer, stderr=writer,
        env=env, cwd=cwd, start_new_session=True,
    )
    os.close(writer)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    pending = list(signals)
    signalled_at: str | None = None
    next_signal = 0.0
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{args[0]} still running after {timeout:g}s:\n{plain(b''.join(chunks).decode(errors='replace'))[-3000:]}")
            ready, _, _ = select.select([reader], [], [], 0.05)
            if ready:
                try:
                    data = os.read(reader, 65536)
                except OSError as exc:  # EIO: the terminal's other side closed (the process ended)
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    break
                chunks.append(data)
            so_far = plain(b"".join(chunks).decode(errors="replace"))
            now = time.monotonic()
            if pending and now >= next_signal and (signalled_at is not None or until(so_far)):
                if signalled_at is None:
                    signalled_at = so_far
                process.send_signal(pending.pop(0))
                next_signal = now + 0.3
            if not ready and process.poll() is not None:
                break
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(reader)
    return Finished(returncode, b"".join(chunks).decode(errors="replace"), signalled_at)


class FeedServer:
    """``/feed.xml``: a :class:`GrowingFeed` gaining ``per_second`` items a second (from ``start``
    items); ``/flaky.xml``: HTTP 503 until :attr:`recovered` is set, then a one-item feed;
    ``POST /hook``: a webhook receiver answering 204, keeping each body."""

    def __init__(self, start: int = 3, per_second: float = 2.0, total: int = 240) -> None:
        # items published over the last hours up to now: the view shows them as HH:MM
        self.feed = GrowingFeed(total=total, start=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=total))
        self.start = start
        self.per_second = per_second
        self.began = time.monotonic()
        self.recovered = threading.Event()
        self.hooks: list[bytes] = []
        self.base_url = ""

    def visible(self) -> int:
        return min(self.feed.total, self.start + int((time.monotonic() - self.began) * self.per_second))

    def flaky(self) -> str:
        title, body = story(9999)
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Flaky</title>'
                f"<link>{self.base_url}/</link><description>d</description><item><title>{escape(title)}</title>"
                f'<link>{self.base_url}/flaky/1</link><guid isPermaLink="false">f-1</guid>'
                f"<pubDate>{format_datetime(self.feed.start)}</pubDate><description>{escape(body)}</description>"
                "</item></channel></rss>")

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    server.feed.visible = server.visible()
                    self._send(200, server.feed.rss())
                elif self.path == "/flaky.xml" and server.recovered.is_set():
                    self._send(200, server.flaky())
                elif self.path == "/flaky.xml":
                    self._send(503, "down for maintenance")
                else:
                    self._send(404, "no such feed")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/hook":
                    self._send(404, "no such hook")
                    return
                server.hooks.append(body)
                self.send_response(204)
                self.end_headers()

            def _send(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/rss+xml" if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        return Handler


@contextmanager
def serving(server: FeedServer) -> Iterator[FeedServer]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), server.handler())
    server.base_url = f"http://127.0.0.1:{http.server_address[1]}"
    server.feed.base_url = server.base_url
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()
