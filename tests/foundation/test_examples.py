"""Every command example runs as written: each `wirewatch ...`, `make ...` and
`python -m wirewatch...` line of README.md's code blocks and of every `--help` text's examples.

Examples are discovered, not listed: a new README section or subcommand is covered without
touching this file. Each runs in bash, in a fresh sandbox that looks like a checkout after
`make install` and `make demo` (the repository's files linked in, a `.venv` whose install stamp is
fresh so `make` installs nothing, `.wirewatch/`, `.wirewatch/demo/` and `~/wirewatch-data` holding the demo's news day,
and the files the examples call a user's own: `sources.yaml`, `rules.yaml`, `destinations.yaml`,
`watchlist.yaml` (copies of `examples/`), `raw.jsonl`). Examples naming
WIREWATCH_KAFKA_BOOTSTRAP or WIREWATCH_ELASTICSEARCH_URL get the local stack
(`source deploy/local/env.sh`) and this test's own topic and index prefix.

A command that ends by itself must exit 0 without a traceback. One still running after
:data:`RUNNING_SECONDS` (a service, `wirewatch run`, `make demo`) gets Ctrl-C and must then stop
within :data:`STOP_SECONDS`, exit 0 or 130, without a traceback. :data:`CANNOT_RUN` lists the few
examples a test cannot run, each with its reason.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wirewatch.cli import build_parser
from wirewatch.embedded import demo as demo_module
from wirewatch.embedded.demo import Demo

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RUNNING_SECONDS = 6.0
STOP_SECONDS = 40.0
#: Examples a test cannot run (the command exactly as discovered) -> why.
CANNOT_RUN = {
    "make test": "runs the whole suite, this test included, and stops the shared stack afterwards",
    "make bench": "starts the benchmarks (minutes) and stops the shared stack afterwards",
    "make stack-up": "starts the shared local stack; tests use it and must never start or stop it",
    "make lint": "ruff and mypy over the whole tree from a cold cache (minutes on a shared 2-core machine); "
                 "CI runs it as its own step",
    "wirewatch deadletters replay 0-0 --data-dir .wirewatch": "replays a dead letter by id, from a transcript: "
        "the store must hold that one (tests/sinks/test_deadletters.py replays real ones)",
    "wirewatch deadletters replay 0-12 0-13": "replays dead letters by id: the store must hold those "
        "(tests/sinks/test_deadletters.py replays real ones)",
    "wirewatch sources discover https://www.theguardian.com/world": "fetches a public site: needs internet "
        "(tests/pollers/test_sources_discover.py runs it against a local site)",
    "wirewatch sources check --config sources.yaml": "polls the example's public feeds: needs internet "
        "(tests/pollers/test_sources_check.py runs it against local sources)",
}
PROGRAMS = re.compile(r"^(?:\.venv/bin/)?(?:wirewatch|make|python3?(?= -m wirewatch))(?:\s|$)")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
STACK_VARIABLES = ("WIREWATCH_KAFKA_BOOTSTRAP", "WIREWATCH_ELASTICSEARCH_URL")
USER_FILES = ("sources.yaml", "rules.yaml", "destinations.yaml", "watchlist.yaml")


@dataclass(frozen=True)
class Example:
    where: str
    command: str

    @property
    def needs_stack(self) -> bool:
        return any(f"{name}=" in self.command for name in STACK_VARIABLES)


def command_lines(block: list[str]) -> Iterator[str]:
    """The commands of a code block: continuation lines joined, comments and output left out."""
    joined: list[str] = []
    for raw in block:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1].rstrip() + " " + raw.strip()
        else:
            joined.append(raw.strip())
    for line in joined:
        line = line.removeprefix("$ ")
        words = line.split()
        while words and ASSIGNMENT.match(words[0]):
            words.pop(0)
        program = " ".join(words)
        if not PROGRAMS.match(program) or re.match(r"^\S+ \S+:", program):  # `wirewatch run: error: ...`
            continue
        yield strip_comment(line)


def strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` inside quotes stays)."""
    for match in re.finditer(r"(?:^|\s)#", line):
        head = line[:match.start()]
        try:
            shlex.split(head)
        except ValueError:  # an open quote: this # is inside it
            continue
        return head.rstrip()
    return line.rstrip()


def readme_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each fenced (but ```text: output) and each indented code block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            if line.strip("`").strip() != "text":  # ```text: output shown, not a command
                yield start + 1, lines[start:i]
        elif line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            start = i
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                i += 1
            yield start + 1, [raw[4:] for raw in lines[start:i] if raw.strip()]
            continue
        i += 1


def readme_examples() -> list[Example]:
    found = []
    for number, block in readme_blocks(README.read_text("utf-8")):
        found += [Example(f"README.md:{number}", c) for c in command_lines(block)]
    return found


def parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``parser`` and every subcommand's parser below it (an alias once)."""
    yield " ".join(("wirewatch", *path)), parser
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from parsers(sub, (*path, name))


def help_examples() -> list[Example]:
    found = []
    helps = [*parsers(build_parser()), ("python -m wirewatch.embedded.demo", demo_module.build_parser())]
    for name, parser in helps:
        text = parser.format_help()
        match = re.search(r"^examples?:\n((?:[ \t]+.*\n?|\n(?=[ \t]))+)", text, re.MULTILINE)
        if match:
            found += [Example(f"{name} --help", c) for c in command_lines(match.group(1).splitlines())]
    return found


def each_once(examples: list[Example]) -> list[Example]:
    """Each command once, where it is first written."""
    first: dict[str, Example] = {}
    for example in examples:
        first.setdefault(example.command, example)
    return list(first.values())


EXAMPLES = each_once([*readme_examples(), *help_examples()])


def test_examples_are_found_in_the_readme_and_every_help() -> None:
    """The discovery itself: a README without examples, or a help that lost them, fails here."""
    wheres = {e.where.split(":")[0] for e in EXAMPLES}
    assert "README.md" in wheres
    assert {"wirewatch --help", "wirewatch run --help", "wirewatch search --help",
            "python -m wirewatch.embedded.demo --help"} <= wheres
    commands = {e.command for e in EXAMPLES}
    assert "make demo" in commands
    assert "wirewatch run --config examples/sources.yaml --rules examples/rules.yaml" in commands
    assert not any(c.endswith("\\") or " #" in c.replace("'#", "") for c in commands)
    assert set(CANNOT_RUN) <= commands, "an allow-listed example no longer exists: remove it from CANNOT_RUN"


# -- the sandbox -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the demo's whole news day (what `make demo` leaves)."""
    data = tmp_path_factory.mktemp("demo-day") / "data"

    async def day() -> None:
        demo = Demo(data, web=None, interval=0.2)
        await demo.start()
        try:
            await demo.settle()
            while demo.advance():
                await demo.settle()
        finally:
            await demo.stop()

    asyncio.run(day())
    shutil.rmtree(data / "config", ignore_errors=True)
    (data / "run.lock").unlink(missing_ok=True)
    return data


def sandbox(root: Path, demo_day: Path) -> Path:
    """A checkout after `make install` and `make demo`, with a user's files, in ``root``."""
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name in (".venv", ".wirewatch", ".git") or entry.name.startswith("."):
            continue
        (root / entry.name).symlink_to(entry)
    venv = root / ".venv"
    venv.mkdir()
    stamps = (".installed", ".native")  # the Makefile's install stamps, in the order it makes them
    for entry in (REPO / ".venv").iterdir():
        if entry.name not in stamps:
            (venv / entry.name).symlink_to(entry)
    for stamp in stamps:  # each newer than its prerequisites: `make` installs and builds nothing here
        (venv / stamp).touch()
    for name in USER_FILES:
        shutil.copy(REPO / "examples" / name, root / name)
    shutil.copy(REPO / "tests" / "fixtures" / "embedded" / "parity_raw.jsonl", root / "raw.jsonl")
    shutil.copytree(demo_day, root / ".wirewatch")
    shutil.copytree(demo_day, root / ".wirewatch" / "demo")
    (root / "home").mkdir()
    shutil.copytree(demo_day, root / "home" / "wirewatch-data")  # `run --help`'s --data-dir ~/wirewatch-data
    return root


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def environment(root: Path, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_") or k.startswith("WIREWATCH_TEST_")}
    env.update(HOME=str(root / "home"), PATH=f"{root / '.venv' / 'bin'}:{env.get('PATH', '')}",
               WIREWATCH_TOPIC_PREFIX=prefix, WIREWATCH_INDEX_PREFIX=prefix)
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def remove_indices(elasticsearch: str, prefixes: set[str]) -> None:
    """Indices and index templates an example made under ``prefixes`` (the stack is shared)."""
    import httpx

    with httpx.Client(base_url=elasticsearch, timeout=30) as es:
        for prefix in prefixes:
            es.delete(f"/{prefix}-*", params={"expand_wildcards": "all", "allow_no_indices": "true"})
            templates = es.get(f"/_index_template/{prefix}-*")
            for template in templates.json().get("index_templates", []) if templates.is_success else []:
                es.delete(f"/_index_template/{template['name']}")


RUNNABLE = [e for e in EXAMPLES if e.command not in CANNOT_RUN]  # the rest: listed with a reason, not skipped


@pytest.mark.parametrize("example", RUNNABLE, ids=[f"{e.where} {e.command}"[:120] for e in RUNNABLE])
def test_example_runs_as_written(example: Example, demo_day: Path, tmp_path: Path, unique: str,
                                 request: pytest.FixtureRequest) -> None:
    prefix = f"test-{unique}"
    root = sandbox(tmp_path / "checkout", demo_day)
    script = example.command
    if example.needs_stack:  # the local stack (skips, or under CI=true fails, when it is not running)
        request.getfixturevalue("kafka_bootstrap")
        elasticsearch = request.getfixturevalue("elasticsearch_url")
        named = set(re.findall(r"WIREWATCH_INDEX_PREFIX=(\S+)", script))
        request.addfinalizer(lambda: remove_indices(elasticsearch, {prefix, *named}))
        script = f"source deploy/local/env.sh; {script}"
    deadline = time.monotonic() + 30
    while not port_free(8750) and time.monotonic() < deadline:  # the default page address
        time.sleep(0.5)
    assert port_free(8750), "127.0.0.1:8750 is taken: stop the `wirewatch run` or demo using it"

    process = subprocess.Popen(["bash", "-o", "pipefail", "-c", script], cwd=root, env=environment(root, prefix),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=RUNNING_SECONDS)
        interrupted = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches every process of the line
        interrupted = True
        try:
            output, _ = process.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            pytest.fail(f"{example.where}: `{example.command}` did not stop within {STOP_SECONDS:g}s of "
                        f"Ctrl-C:\n{output.decode(errors='replace')[-3000:]}")
    text = output.decode(errors="replace")
    assert "Traceback" not in text, f"{example.where}: `{example.command}`:\n{text[-5000:]}"
    allowed = {0, 130, -signal.SIGINT} if interrupted else {0}
    assert process.returncode in allowed, (
        f"{example.where}: `{example.command}` exited {process.returncode}"
        f"{' after Ctrl-C' if interrupted else ''}:\n{text[-5000:]}")
