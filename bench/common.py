"""What every benchmark shares: the result record, the data set, subprocess helpers.

A benchmark is a function ``(ctx) -> list[Result]``. It measures a value and,
in the same run, a floor or peer, so the ratio survives the noise of a shared
machine. A missing component is a ``Result`` with ``value=None`` and a note,
never an exception that stops the suite.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import beats, generate, multilingual

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
VENV_BIN = REPO / ".venv" / "bin"


@dataclass
class Result:
    """One line of ``results.json``; ``ratio`` is value / floor (or peer)."""

    name: str
    value: float | None
    unit: str
    floor: float | None = None
    ratio: float | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.floor:
            self.ratio = self.value / self.floor

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("value", "floor", "ratio"):
            if isinstance(data[key], float):  # small values (ms per item, shares) keep 4 decimals
                data[key] = round(data[key], 4 if key == "ratio" or abs(data[key]) < 10 else 2)
        if not data["extra"]:
            del data["extra"]
        return data


def missing(name: str, unit: str, why: str) -> Result:
    """The record of a metric that could not be measured in this run."""
    return Result(name, None, unit, notes=why)


@dataclass
class Context:
    """Per-run settings and the (cached) data set."""

    items_count: int = 20000
    rules_count: int = 1000
    kafka: str | None = None
    elasticsearch: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    out: Path = OUT
    #: Busy-loop processes running beside the suite (``--busy N``), recorded with every result.
    busy: int = 0
    #: Results measured so far in this run, by name: a step reuses another's figure as its floor.
    measured: dict[str, Result] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.out / "data"

    @property
    def _version(self) -> str:
        """Changes with the generator's code and grammar, so a cached data set is never stale."""
        code = b"".join(Path(m.__file__ or "").read_bytes() for m in (generate, beats, multilingual))
        return hashlib.sha256(code).hexdigest()[:8] + f"-{generate.SEED}"

    @property
    def items_path(self) -> Path:
        return self.data_dir / f"items-{self.items_count}-{self._version}.jsonl"

    @property
    def rules_path(self) -> Path:
        return self.data_dir / f"rules-{self.rules_count}-{self._version}.yaml"

    @property
    def labels_path(self) -> Path:
        """What each item is meant to be (``generate.labelled_items``), line by line with the items."""
        return self.data_dir / f"labels-{self.items_count}-{self._version}.jsonl"

    def ensure_data(self) -> None:
        """Write items, their labels and rules once per size and seed (regenerated only when missing)."""
        if not self.items_path.exists() or not self.labels_path.exists():
            pairs = generate.labelled_items(self.items_count)
            generate.write_jsonl(self.labels_path, [label for _, label in pairs])
            generate.write_jsonl(self.items_path, [item for item, _ in pairs])
        if not self.rules_path.exists():
            generate.write_rules_yaml(self.rules_path, generate.rules(self.rules_count))

    def items(self, limit: int | None = None) -> list[dict[str, Any]]:
        self.ensure_data()
        out = []
        with self.items_path.open(encoding="utf-8") as fh:
            for line in fh:
                out.append(json.loads(line))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def labels(self) -> list[dict[str, str]]:
        self.ensure_data()
        with self.labels_path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]

    def rules(self) -> list[dict[str, str]]:
        self.ensure_data()
        rules: list[dict[str, str]] = json.loads(self.rules_path.read_text("utf-8"))["rules"]
        return rules

    def prefix(self, what: str) -> str:
        """A topic/index prefix no other run or engineer uses."""
        return f"bench-{self.run_id}-{what}"


def pin_one_core() -> list[str]:
    """``taskset -c 0`` when available: "per core" figures on a shared machine."""
    return ["taskset", "-c", "0"] if shutil.which("taskset") else []


def wirewatch_cmd() -> list[str]:
    exe = VENV_BIN / "wirewatch"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "wirewatch"]


def service_env(ctx: Context, prefix: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a ``wirewatch`` service process: only this run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_") or k.startswith("WIREWATCH_TEST_")}
    env.update(
        WIREWATCH_TOPIC_PREFIX=prefix,
        WIREWATCH_INDEX_PREFIX=prefix,
        WIREWATCH_DATA_DIR=str(data_dir),
        WIREWATCH_LOG_FORMAT="json",
        WIREWATCH_LOG_LEVEL="warning",
    )
    if ctx.kafka:
        env["WIREWATCH_KAFKA_BOOTSTRAP"] = ctx.kafka
    if ctx.elasticsearch:
        env["WIREWATCH_ELASTICSEARCH_URL"] = ctx.elasticsearch
    env.update(extra)
    return env


def timed_pipe(cmd: list[str], stdin: Path, stdout: Path, timeout: float,
               env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Run ``cmd < stdin > stdout``; wall-clock seconds and the finished process."""
    with stdin.open("rb") as fin, stdout.open("wb") as fout:
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, timeout=timeout,
                              env=env, check=False)
        return time.perf_counter() - start, proc


def children_cpu() -> float:
    """CPU seconds (user+system) of all finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of a live process so far (Linux ``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: A busy loop that stops by itself after ``argv[2]`` seconds, or as soon as its parent
#: (``argv[1]``) is gone, so a killed suite leaves no load behind.
BUSY_LOOP = (
    "import os, sys, time\n"
    "parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])\n"
    "while time.monotonic() < end and os.getppid() == parent:\n"
    "    for _ in range(100_000):\n"
    "        pass\n"
)


@contextlib.contextmanager
def busy_load(count: int, seconds: float) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` busy-loop processes for the block, killed when it ends, fails or is interrupted.

    They compete with the suite for the cores (not pinned): the "busy machine" case.
    """
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(os.getpid()), str(seconds)],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def last_line(text: bytes | str, limit: int = 300) -> str:
    """The last non-empty stderr line, for a note."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:limit] if lines else ""


class Service:
    """A ``wirewatch`` service in the background, stopped (TERM, then KILL) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, pin: bool = False) -> None:
        self.cmd = ([*pin_one_core()] if pin else []) + wirewatch_cmd() + args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.log.open("wb")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self._fh, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        return self

    def usage(self) -> str:
        """``"<cpu> CPU-s in <wall> s"``: how busy the service was since it started."""
        cpu = self.cpu_seconds()
        wall = time.monotonic() - self.started
        return f"{cpu:.0f} CPU-s in {wall:.0f}s" if cpu is not None else f"? CPU-s in {wall:.0f}s"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float | None:
        """User+system CPU time so far (Linux /proc), to tell CPU-bound from waiting."""
        return None if self.proc is None else process_cpu_seconds(self.proc.pid)

    def tail(self) -> str:
        try:
            return last_line(self.log.read_bytes())
        except OSError:
            return ""

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._fh.close()


def chunks(seq: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
