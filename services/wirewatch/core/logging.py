"""structlog set-up: JSON lines when not on a terminal, pretty when on one.

Logs always go to stderr so that stdout stays free for the JSON-lines
contracts of ``wirewatch poll --once`` and ``wirewatch process``.

Every value in a line is cut to :data:`VALUE_MAX` characters (head and tail kept,
``…[N chars]…`` between them), containers to :data:`ITEMS_MAX` items of :data:`NESTED_MAX`
characters, each traceback line to :data:`VALUE_MAX`: a hostile 20 MB title must not
become a 20 MB log line.

structlog itself is imported when the first message is logged, not at start-up: it
imports rich and asyncio, ~75 ms that a ``wirewatch process`` run over clean input,
which logs nothing, would pay on every start.

Libraries log through the standard library (aiokafka, faust, mode, elastic_transport,
aiohttp, httpx): their records go through structlog's ``ProcessorFormatter`` to the same
renderer, so every line on stderr has one format, ``component`` naming the library's
logger and the record's own level. Their INFO chatter (a line per HTTP request, Faust's
start-up steps) is cut at WARNING unless ``WIREWATCH_LOG_LEVEL=debug``. While Wirewatch
tries to reach Kafka or Elasticsearch (:func:`library_failures_muted`), what those
clients log about the failure is demoted to DEBUG: the failure is reported once, as the
one line of :mod:`wirewatch.core.reach`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import sys
from collections.abc import Collection, Iterator
from contextvars import ContextVar
from types import ModuleType
from typing import Any, TextIO

from wirewatch.core.text import shorten

#: Characters of any one value in a log line (strings, reprs, each line of a traceback).
VALUE_MAX = 300
#: Characters of a string inside a container, and items of a list, tuple, set or dict
#: (the rest counted): a container stays about as short as one value.
NESTED_MAX = 100
ITEMS_MAX = 10
#: Nesting shown in a log line; deeper containers are named, not shown.
DEPTH_MAX = 4

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

#: Loggers of the clients whose failure to connect Wirewatch reports itself (core/reach.py).
CONNECTION_LOGGERS = ("aiokafka", "kafka", "elastic_transport", "elasticsearch", "aiohttp.client", "urllib3")

#: (numeric level, JSON?) of the last :func:`configure_logging`, applied when structlog loads.
_config: tuple[int, bool] = (logging.INFO, not sys.stderr.isatty())
#: (where lines go, event names dropped) of the last :func:`configure_logging`
_output: tuple[TextIO | io.TextIOBase | None, frozenset[str]] = (None, frozenset())
_structlog: ModuleType | None = None


def configure_logging(level: str = "info", fmt: str = "auto", *, stream: TextIO | io.TextIOBase | None = None,
                      skip: Collection[str] = ()) -> None:
    """Configure structlog, and the stdlib root logger that every library logs through.

    ``stream`` replaces stderr (``wirewatch run``'s terminal view prints lines above its status
    line); events named in ``skip`` are dropped (ones that view shows in its own words).
    """
    global _config, _output
    numeric = _LEVELS.get(level, logging.INFO)
    _config = (numeric, fmt == "json" or (fmt == "auto" and not sys.stderr.isatty()))
    _output = (stream, frozenset(skip))
    if _structlog is not None:  # already logging: re-configure now
        _apply(_structlog)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(LibraryHandler())
    # libraries' INFO is chatter (a line per request, per Faust start-up step): WARNING unless debug
    root.setLevel(numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING))


def _renderer(structlog: ModuleType, use_json: bool) -> Any:
    if use_json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=_short_traceback)


def _apply(structlog: ModuleType) -> None:
    numeric, use_json = _config
    stream, skip = _output
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            *([_skipper(structlog, skip)] if skip else []),
            shorten_values,
            _renderer(structlog, use_json),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def _skipper(structlog: ModuleType, skip: frozenset[str]) -> Any:
    """A structlog processor dropping the events named in ``skip``."""

    def drop(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("event") in skip:
            raise structlog.DropEvent
        return event

    return drop


def _library_formatter(structlog: ModuleType) -> logging.Formatter:
    """structlog's ProcessorFormatter: a library's record becomes a line like ours."""
    _numeric, use_json = _config
    formatter: logging.Formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            _component_of_record,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            shorten_values,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(structlog, use_json)],
    )
    return formatter


def _component_of_record(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """``component`` = the library's logger name (``aiokafka.conn``), first like in our lines."""
    record = event.get("_record")
    return {"component": record.name if record is not None else "?", **event}


class LibraryHandler(logging.Handler):
    """The root logger's one handler: library records rendered by structlog on stderr.

    The formatter is built on the first record, so a run where no library logs
    never imports structlog.
    """

    def __init__(self) -> None:
        super().__init__()
        self._formatter: logging.Formatter | None = None
        self.addFilter(_demote_muted)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._formatter is None:
                self._formatter = _library_formatter(_loaded())
            line = self._formatter.format(record)
            stream = _output[0] or sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:  # logging must never break the service; the stdlib reports it
            self.handleError(record)


class _Window:
    """One attempt to connect; background tasks started during it keep a reference, so it is closed, not unset."""

    active = True


_muted: ContextVar[_Window | None] = ContextVar("wirewatch_library_failures_muted", default=None)


@contextlib.contextmanager
def library_failures_muted() -> Iterator[None]:
    """While this runs (in this task), what :data:`CONNECTION_LOGGERS` log is demoted to DEBUG.

    For a connection attempt whose failure Wirewatch reports itself in one line: aiokafka's
    ``Unable connect to ...`` and elastic_transport's retry warnings would say it again, in
    another form. Tasks a client starts meanwhile inherit the window, which closes with the
    block: their later records keep their levels.
    """
    window = _Window()
    token = _muted.set(window)
    try:
        yield
    finally:
        window.active = False
        _muted.reset(token)


def _demote_muted(record: logging.LogRecord) -> bool:
    window = _muted.get()
    if window is None or not window.active:
        return True
    name = record.name
    if not any(name == lib or name.startswith(lib + ".") for lib in CONNECTION_LOGGERS):
        return True
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return _config[0] <= logging.DEBUG


def _short_traceback(sio: Any, exc_info: Any) -> None:
    """Console tracebacks, plain, each line cut (rich would wrap a 20 MB message over 250k lines)."""
    import traceback

    text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    sio.write("\n" + "\n".join(shorten(line, VALUE_MAX) for line in text.split("\n")))


def shorten_values(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every value of the line cut to a few hundred characters."""
    for key, value in event.items():
        if key in _NOT_SHORTENED:
            continue
        if key in ("exception", "stack") and isinstance(value, str):
            event[key] = "\n".join(shorten(line, VALUE_MAX) for line in value.split("\n"))
        else:
            event[key] = _short(value, 0)
    return event


#: what structlog's renderers and ProcessorFormatter read as objects (a library record's exc_info tuple)
_NOT_SHORTENED = frozenset({"exc_info", "_record", "_from_structlog"})


def _short(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return shorten(value, VALUE_MAX if depth == 0 else NESTED_MAX)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 256 else f"<int of {value.bit_length():,} bits>"
    if isinstance(value, bytes | bytearray):
        return value if len(value) <= VALUE_MAX // 4 else f"{bytes(value[:VALUE_MAX // 4])!r}…[{len(value):,} bytes]"
    if isinstance(value, dict | list | tuple | set | frozenset):
        if depth >= DEPTH_MAX:
            return f"<{type(value).__name__} of {len(value):,} items>"
        if isinstance(value, dict):
            pairs = itertools.islice(value.items(), ITEMS_MAX)
            short: dict[Any, Any] = {_short(k, depth + 1): _short(v, depth + 1) for k, v in pairs}
            if len(value) > ITEMS_MAX:
                short["…"] = f"[{len(value):,} items]"
            return short
        items = [_short(v, depth + 1) for v in itertools.islice(value, ITEMS_MAX)]
        if len(value) > ITEMS_MAX:
            items.append(f"…[{len(value):,} items]")
        return items
    try:
        text = repr(value)  # what the renderers print for other objects
    except Exception:  # a broken __repr__ must not cost the log line
        return f"<{type(value).__name__}>"
    return value if len(text) <= VALUE_MAX else shorten(text, VALUE_MAX)


def _loaded() -> ModuleType:
    """structlog, imported and configured on first use."""
    global _structlog
    if _structlog is None:
        import structlog

        _apply(structlog)
        _structlog = structlog
    return _structlog


class _Logger:
    """A structlog logger carrying ``component=name``, created on its first call."""

    # structlog on the first message that passes the level: ~75 ms of every start; tests/foundation/test_logging.py::test_filtered_messages_do_not_load_structlog_and_the_rest_are_json_lines

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        level = _LEVELS.get(attr)
        if level is not None and level < _config[0]:
            return _drop  # filtered out, as structlog's filtering logger would: no need to load it
        if self._logger is None:
            # structlog's own lazy proxy: honours configure_logging() called later
            self._logger = _loaded().get_logger(component=self._name)
        return getattr(self._logger, attr)


def _drop(*args: Any, **kwargs: Any) -> None:
    return None


def get_logger(name: str) -> Any:
    """A structlog logger carrying ``component=name`` (structlog loads on the first message)."""
    return _Logger(name)
