"""structlog set-up: JSON lines when not on a terminal, pretty when on one.

Logs always go to stderr so that stdout stays free for the JSON-lines
contracts of ``wirewatch poll --once`` and ``wirewatch process``.

structlog itself is imported when the first message is logged, not at start-up:
it imports rich (for pretty tracebacks) and asyncio, ~75 ms that a ``wirewatch
process`` run over clean input, which logs nothing, would pay on every start.
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType
from typing import Any

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

#: (numeric level, JSON?) of the last :func:`configure_logging`, applied when structlog loads.
_config: tuple[int, bool] = (logging.INFO, not sys.stderr.isatty())
_structlog: ModuleType | None = None


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog and the stdlib root logger (for aiokafka, faust, elasticsearch)."""
    global _config
    numeric = _LEVELS.get(level, logging.INFO)
    _config = (numeric, fmt == "json" or (fmt == "auto" and not sys.stderr.isatty()))
    if _structlog is not None:  # already logging: re-configure now
        _apply(_structlog)
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)


def _apply(structlog: ModuleType) -> None:
    numeric, use_json = _config
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


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
