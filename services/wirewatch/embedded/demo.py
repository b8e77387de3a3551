"""``make demo``: the main job against a bundled, scripted news day, offline.

Starts a local HTTP server (:mod:`wirewatch.embedded.demo_site`) with four
fictional outlets and a live blog whose posts appear and get corrected while
the demo runs, plus a webhook receiver; then runs the ``wirewatch run``
machinery against it with short poll intervals and prints what happens: new
stories, folded duplicates, entities, alerts as the receiver gets them.

    python -m wirewatch.embedded.demo [--duration SECONDS] [--step SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web as aioweb

from wirewatch.core.config import Settings, load_settings
from wirewatch.core.errors import WirewatchError
from wirewatch.core.logging import configure_logging
from wirewatch.embedded.demo_site import DEMO_DATA, DemoSite, WebhookReceiver, serve
from wirewatch.embedded.runner import Runner, RunOptions
from wirewatch.embedded.view import duration, one_line, plural, source_name
from wirewatch.embedded.web import parse_bind
from wirewatch.processors.pipeline import ProcessResult

DEFAULT_DATA_DIR = Path(".wirewatch") / "demo"
#: Files a demo data folder may hold: only such a folder is wiped at start.
_OURS = {"wirewatch.db", "wirewatch.db-wal", "wirewatch.db-shm", "delivered.db", "delivered.db-wal",
         "delivered.db-shm", "run.lock", "config"}


def fresh_data_dir(path: Path) -> Path:
    """Empty the demo's own folder (never one holding anything else)."""
    if path.exists():
        names = {p.name for p in path.iterdir()}
        if names - _OURS:
            raise WirewatchError(f"{path}: not a demo data folder (holds {sorted(names - _OURS)[0]!r}); "
                                 "pick another with --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@dataclass
class Demo:
    """The demo site, receiver and pipeline, steppable (tests) or on a timer (``make demo``)."""

    data_dir: Path
    web: tuple[str, int] | None = ("127.0.0.1", 8750)
    interval: float = 1.0
    site: DemoSite = field(default_factory=DemoSite)
    receiver: WebhookReceiver = field(default_factory=WebhookReceiver)
    on_result: Callable[[ProcessResult], None] | None = None
    runner: Runner | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _http: aioweb.AppRunner | None = None

    async def start(self) -> None:
        """Serve the site, write the config files, start the pipeline; returns once it runs."""
        app = aioweb.Application()
        self.site.routes(app)
        self.receiver.routes(app)
        self._http, base = await serve(app)
        self.site.base_url = base
        config = self.write_config(self.data_dir / "config", base)
        settings: Settings = load_settings(
            data_dir=self.data_dir, kafka_bootstrap=None, elasticsearch_url=None, topic_prefix="demo"
        )
        options = RunOptions(
            sources=config / "sources.yaml", rules=config / "rules.yaml",
            destinations=config / "destinations.yaml", watchlist=config / "watchlist.yaml",
            ner="off", web=self.web,
        )
        self.runner = Runner(options, settings)
        if self.on_result is not None:
            self.runner.listeners.append(self.on_result)
        self._task = asyncio.create_task(self.runner.run(self._stop), name="wirewatch-run")
        ready = asyncio.create_task(self.runner.ready.wait())
        await asyncio.wait([ready, self._task], return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            ready.cancel()
            await self._task  # raises the start-up error

    def write_config(self, folder: Path, base: str) -> Path:
        """sources.yaml (this run's port, short intervals), destinations.yaml, rules, watchlist."""
        folder.mkdir(parents=True, exist_ok=True)
        sources = [dict(s, interval=f"{self.interval}s") for s in self.site.sources()]
        fetch = {"min_host_delay": "0s", "per_host_concurrency": 8, "connect_timeout": "2s",
                 "read_timeout": "5s", "total_timeout": "10s"}
        (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": sources, "fetch": fetch}, sort_keys=False))
        hooks = {"destinations": {"demo-webhook": {"url": f"{base}{self.receiver.path}", "format": "json",
                                                   "timeout": "2s", "retries": 3, "backoff": "0.2s"}}}
        (folder / "destinations.yaml").write_text(yaml.safe_dump(hooks, sort_keys=False))
        shutil.copy(DEMO_DATA / "rules.yaml", folder / "rules.yaml")
        shutil.copy(DEMO_DATA / "watchlist.yaml", folder / "watchlist.yaml")
        return folder

    def advance(self) -> bool:
        """Next stage of the news day; False when there is none."""
        if self.site.stage >= self.site.last_stage:
            return False
        self.site.stage += 1
        return True

    def polls(self) -> dict[str, int]:
        """Finished polls per source so far (a mark for :meth:`settled`)."""
        assert self.runner is not None and self.runner.poll_sink is not None
        return {s["id"]: self.runner.poll_sink.saves[s["id"]] for s in self.site.sources()}

    def settled(self, mark: dict[str, int]) -> bool:
        """Every source was fully polled twice since ``mark`` and every stage is idle."""
        assert self.runner is not None
        now = self.polls()
        return all(now[i] >= mark[i] + 2 for i in mark) and self.runner.lag() == 0

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every source was fully polled twice at this stage and every stage is idle."""
        mark = self.polls()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._task is not None and self._task.done():
                await self._task
                raise RuntimeError("the pipeline stopped")
            if self.settled(mark):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the pipeline did not settle within {timeout:g}s")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.cleanup()


# -- what the user sees -------------------------------------------------------
_LABEL = {"new": "NEW", "duplicate": "DUPLICATE", "near_duplicate": "NEAR-DUP", "update": "UPDATE"}
_STYLE = {"new": "bold green", "duplicate": "dim", "near_duplicate": "yellow", "update": "cyan"}


class Printer:
    """One line per processed item: verdict, outlet, title, entities; a folded one names its story."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.stories: dict[str, tuple[str, str]] = {}
        """story id -> (title, outlet) of the items that started a story."""

    def __call__(self, result: ProcessResult) -> None:
        from rich.text import Text

        item = result.item
        status = item["dedupe"]["status"]
        outlet = source_name(item["source"])
        if status == "new":
            self.stories[item["story_id"]] = (one_line(item["title"]), outlet)
        line = Text()
        line.append(f"{_LABEL[status]:<10}", style=_STYLE[status])
        line.append(f"[{outlet}] ", style="bold")
        line.append(one_line(item["title"]))
        if status in ("duplicate", "near_duplicate"):
            title, where = self.stories.get(item["story_id"], (item["story_id"], "?"))
            line.append(f'  -> folded into "{title}" ({where})', style="dim")
        entities = ", ".join(e["name"] for e in item.get("entities", []))
        if entities:
            line.append(f"  ({entities})", style="magenta")
        self.console.print(line)


def summary(demo: Demo, seconds: float) -> str:
    """The closing line: what the demo did, in words."""
    assert demo.runner is not None
    stats = demo.runner.stats
    verdicts = stats.verdicts
    parts = [f"{stats.processed} items: {plural(stats.stories, 'new story', 'new stories')}",
             f"{stats.folded} folded into their stories", plural(verdicts.get("update", 0), "update")]
    return (f"Stopped after {duration(seconds)}. {', '.join(parts)}; {plural(stats.alerts, 'alert')}, "
            f"{plural(len(demo.receiver.deliveries), 'webhook delivery', 'webhook deliveries')}. "
            f"Data kept in {demo.data_dir}")


def quiet_line(demo: Demo) -> str:
    """Said once when the scripted news day is over."""
    assert demo.runner is not None
    page = f"the page stays up at {demo.runner.web_url}; " if demo.runner.web_url else ""
    return f"The demo feeds are quiet now (the news day is over); {page}Ctrl-C to stop."


def banner(demo: Demo, console: Any) -> None:
    assert demo.runner is not None
    data = demo.data_dir
    console.rule("[bold]Wirewatch demo")
    console.print(f"Sample outlets and a live blog at {demo.site.base_url} (fictional, served locally)")
    if demo.runner.web_url:
        console.print(f"Web page: [bold cyan]{demo.runner.web_url}[/]  (search, stories, live alerts)")
    console.print(f"Webhook receiver: {demo.site.base_url}{demo.receiver.path}")
    console.print("Try, in another shell, while it runs or after:")
    console.print(f"  WIREWATCH_DATA_DIR={data} .venv/bin/wirewatch search '\"grain corridor\" AND Ukraine'")
    console.print(f"  WIREWATCH_DATA_DIR={data} .venv/bin/wirewatch search 'entity:\"Bank of Japan\"' --since 24h")
    console.print(f"  WIREWATCH_DATA_DIR={data} .venv/bin/wirewatch rules backtest --query 'Kharkiv AND explosion' --since 7d")
    console.print("New posts appear and get corrected as the demo runs. Ctrl-C stops it.")
    console.rule()


async def run_demo(args: argparse.Namespace) -> None:
    from rich.console import Console

    # soft wrap: a long line is the terminal's to wrap, so a printed command copies as one line
    console = Console(highlight=False, soft_wrap=True)
    demo = Demo(fresh_data_dir(args.data_dir), web=parse_bind(args.web), interval=args.interval)

    def alert_line(body: dict[str, Any]) -> None:
        from rich.text import Text

        line = Text("ALERT", style="bold red")
        line.append(f"     webhook got {body.get('rule')} -> ", style="bold")
        line.append(one_line(str(body.get("title"))))
        line.append(f" ({source_name(body.get('source'))})", style="dim")
        console.print(line)

    demo.receiver.on_alert = alert_line
    demo.on_result = Printer(console)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await demo.start()
    banner(demo, console)
    started = time.monotonic()
    next_stage = started + args.step
    last_stage: dict[str, int] | None = demo.polls() if demo.site.stage >= demo.site.last_stage else None
    told_quiet = False
    try:
        while not stop.is_set():
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                break
            if now >= next_stage:
                if demo.advance():
                    console.print(f"[dim]-- the news moves on (stage {demo.site.stage} of {demo.site.last_stage})[/]")
                    if demo.site.stage >= demo.site.last_stage:
                        last_stage = demo.polls()
                next_stage = now + args.step
            if last_stage is not None and not told_quiet and demo.settled(last_stage):
                console.print(f"[dim]-- {quiet_line(demo)}[/]")
                told_quiet = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
    finally:
        await demo.stop()
    console.rule()
    console.print(summary(demo, time.monotonic() - started))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wirewatch.embedded.demo",
        description="Run Wirewatch offline against bundled sample outlets and a live blog.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  make demo\n"
        "  # a minute, no web page\n"
        "  make demo DEMO_ARGS=\"--duration 60 --web off\"\n"
        "  .venv/bin/python -m wirewatch.embedded.demo --duration 60 --web off\n",
    )
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--step", type=float, default=15.0, metavar="SECONDS",
                        help="time between news stages (default 15)")
    parser.add_argument("--interval", type=float, default=2.0, metavar="SECONDS", help="poll interval (default 2)")
    parser.add_argument("--web", default="127.0.0.1:8750", metavar="HOST:PORT|off", help="web page (default 127.0.0.1:8750)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, metavar="DIR",
                        help=f"demo data folder, emptied at start (default {DEFAULT_DATA_DIR})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("warning", "console" if sys.stderr.isatty() else "json")
    try:
        asyncio.run(run_demo(args))
    except WirewatchError as exc:
        print(f"wirewatch demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
