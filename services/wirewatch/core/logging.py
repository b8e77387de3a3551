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
"""

from __future__ import annotations

import io
import itertools
import logging
import sys
from collections.abc import Collection
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

#: (numeric level, JSON?) of the last :func:`configure_logging`, applied when structlog loads.
_config: tuple[int, bool] = (logging.INFO, not sys.stderr.isatty())
#: (where lines go, event names dropped) of the last :func:`configure_logging`
_output: tuple[TextIO | io.TextIOBase | None, frozenset[str]] = (None, frozenset())
_structlog: ModuleType | None = None


def configure_logging(level: str = "info", fmt: str = "auto", *, stream: TextIO | io.TextIOBase | None = None,
                      skip: Collection[str] = ()) -> None:
    """Configure structlog and the stdlib root logger (for aiokafka, faust, elasticsearch).

    ``stream`` replaces stderr (``wirewatch run``'s terminal view prints lines above its status
    line); events named in ``skip`` are dropped (ones that view shows in its own words).
    """
    global _config, _output
    numeric = _LEVELS.get(level, logging.INFO)
    _config = (numeric, fmt == "json" or (fmt == "auto" and not sys.stderr.isatty()))
    _output = (stream, frozenset(skip))
    if _structlog is not None:  # already logging: re-configure now
        _apply(_structlog)
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=stream or sys.stderr, force=True)


def _apply(structlog: ModuleType) -> None:
    numeric, use_json = _config
    stream, skip = _output
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=_short_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            *([_skipper(structlog, skip)] if skip else []),
            shorten_values,
            renderer,
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


def _short_traceback(sio: Any, exc_info: Any) -> None:
    """Console tracebacks, plain, each line cut (rich would wrap a 20 MB message over 250k lines)."""
    import traceback

    text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    sio.write("\n" + "\n".join(shorten(line, VALUE_MAX) for line in text.split("\n")))


def shorten_values(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every value of the line cut to a few hundred characters."""
    for key, value in event.items():
        if key in ("exception", "stack") and isinstance(value, str):
            event[key] = "\n".join(shorten(line, VALUE_MAX) for line in value.split("\n"))
        else:
            event[key] = _short(value, 0)
    return event


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
