"""Every `wirewatch` subcommand explains itself with examples."""

from __future__ import annotations

import argparse

import pytest

from wirewatch.cli import COMMAND_MODULES, SERVICE_MODULES, build_parser, main

COMMANDS = [
    ["poll"], ["poller"], ["process"], ["processor"], ["indexer"], ["notifier"],
    ["search"], ["rules", "backtest"], ["run"],
]


def subparser(path: list[str]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_shows_examples_of_the_command(path: list[str]) -> None:
    text = subparser(path).format_help()
    examples = text.split("examples:", 1)
    assert len(examples) == 2, text
    assert f"wirewatch {path[0]}" in examples[1] or f"wirewatch {' '.join(path)}" in examples[1]


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: wirewatch" in capsys.readouterr().err


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_each_command_is_found_in_the_module_that_registers_it() -> None:
    """`main` builds only the running command's module: the table must name it exactly."""
    assert set(COMMAND_MODULES) == _commands(build_parser())
    for module in SERVICE_MODULES:
        assert _commands(build_parser((module,))) == {c for c, m in COMMAND_MODULES.items() if m == module}
