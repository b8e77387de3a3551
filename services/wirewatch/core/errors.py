"""Errors that end up as one clear line for the user, never a traceback."""

from __future__ import annotations


class WirewatchError(Exception):
    """Base for errors the CLI reports as a single line and a non-zero exit."""

    exit_code = 2


class ConfigError(WirewatchError):
    """A config file or setting is unusable.

    ``where`` names the file and field (``sources.yaml: sources[2].url``) so the
    user can fix it without reading code.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class SchemaError(WirewatchError):
    """A message does not match its topic contract in ``schemas/``."""

    def __init__(self, schema: str, path: str, reason: str) -> None:
        self.schema = schema
        self.path = path
        self.reason = reason
        where = f" at {path}" if path else ""
        super().__init__(f"not a valid {schema}{where}: {reason}")
