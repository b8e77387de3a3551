"""Every `wirewatch` subcommand explains itself with examples."""

from __future__ import annotations

import argparse

import pytest

from wirewatch.cli import build_parser, main

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
