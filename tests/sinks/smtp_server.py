"""A real SMTP server process for the email tests (aiosmtpd), on 127.0.0.1 and a free port.

    python tests/sinks/smtp_server.py --out mails.jsonl [--tls none|starttls|tls --cert C --key K]
                                      [--auth USER:PASSWORD] [--refuse ADDRESS ...]

Prints ``listening <port>`` once it accepts connections. Each mail it accepts is one JSON
line in ``--out``: envelope sender and recipients, the raw message (latin-1 text of its
bytes), whether the session was encrypted, and the user it authenticated.
With ``--tls starttls`` it refuses MAIL before STARTTLS; with ``--auth`` it refuses MAIL
before AUTH (and AUTH before STARTTLS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class Recorder:
    def __init__(self, out: str, refuse: list[str]) -> None:
        self.out = out
        self.refuse = set(refuse)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        record: dict[str, Any] = {
            "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "data": (envelope.original_content or b"").decode("latin-1"),
            "tls": server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
            "auth": session.auth_data.decode() if isinstance(session.auth_data, bytes) else None,
        }
        with open(self.out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--tls", choices=["none", "starttls", "tls"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--refuse", action="append", default=[], help="a recipient to refuse with 550")
    args = parser.parse_args()
    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    user, _, password = (args.auth or "").partition(":")

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

    def protocol() -> SMTP:
        return SMTP(
            Recorder(args.out, args.refuse), hostname="smtp.test", enable_SMTPUTF8=True,
            tls_context=context if args.tls == "starttls" else None,
            require_starttls=args.tls == "starttls",
            authenticator=authenticate if args.auth else None, auth_required=bool(args.auth),
            auth_require_tls=args.tls == "starttls",  # implicit TLS: aiosmtpd knows only STARTTLS
        )

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, "127.0.0.1", 0,
                                          ssl=context if args.tls == "tls" else None)
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
