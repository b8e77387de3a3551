"""A real SMTP server process for tests (``smtp_server.py``, aiosmtpd) and reading what it received."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

SERVER = Path(__file__).resolve().parent / "smtp_server.py"


def message_id(alert_id: str) -> str:
    return f"<alert.{hashlib.sha256(alert_id.encode()).hexdigest()[:32]}@example.org>"


@dataclass
class SmtpServer:
    port: int
    out: Path

    def mails(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text("utf-8").splitlines()]


@contextlib.asynccontextmanager
async def smtp_server(tmp_path: Path, name: str, *args: str) -> AsyncIterator[SmtpServer]:
    """The aiosmtpd process of ``tests/sinks/smtp_server.py``, stopped (and reaped) on exit."""
    out = tmp_path / f"{name}.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER), "--out", str(out), *args, stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("listening "), line
        yield SmtpServer(int(line.split()[1]), out)
    finally:
        process.terminate()
        await process.wait()


def parsed(mail: dict[str, Any]) -> EmailMessage:
    raw = mail["data"].encode("latin-1")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message
