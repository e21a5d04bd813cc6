"""The value parsers every command shares: what each accepts, one wording for what it refuses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from functions import cliargs


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (cliargs.finite, "-2.5", -2.5),
        (cliargs.positive, "0.01", 0.01),
        (cliargs.non_negative, "0", 0.0),
        (cliargs.count, "0", 0),
        (cliargs.positive_count, "3", 3),
        (cliargs.port, "65535", 65535),
        (cliargs.duration, "0", 0.0),
        (cliargs.duration, "90", 90.0),
        (cliargs.duration, "90s", 90.0),
        (cliargs.duration, "1.5m", 90.0),
        (cliargs.duration, "2h", 7200.0),
        (cliargs.positive_duration, "0.5s", 0.5),
        (cliargs.json_value, '{"n": 1}', {"n": 1}),
        (cliargs.json_value, "[]", []),
        (cliargs.version, "7.4", (7, 4)),
        (cliargs.version, "6.2.14", (6, 2)),
        (cliargs.timestamp, "2027-01-31T12:00:00Z", 1801396800.0),
        (cliargs.timestamp, "2027-01-31T14:00:00+02:00", 1801396800.0),
        (cliargs.names, "echo, sleep", ("echo", "sleep")),
    ],
)
def test_accepted_values(parse: Callable[[str], Any], text: str, value: float) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (cliargs.finite, "x", "not a number: 'x'"),
        (cliargs.finite, "inf", "must be a finite number, not inf"),
        (cliargs.positive, "0", "must be a positive number, not 0"),
        (cliargs.positive, "nan", "must be a finite number, not nan"),
        (cliargs.positive, "inf", "must be a finite number, not inf"),
        (cliargs.non_negative, "-1", "must be zero or more, not -1"),
        (cliargs.non_negative, "-inf", "must be a finite number, not -inf"),
        (cliargs.count, "1.5", "not a whole number: '1.5'"),
        (cliargs.count, "-3", "must be zero or more, not -3"),
        (cliargs.positive_count, "0", "must be a positive whole number, not 0"),
        (cliargs.port, "0", "must be a port number from 1 to 65535, not 0"),
        (cliargs.port, "70000", "must be a port number from 1 to 65535, not 70000"),
        (cliargs.duration, "soon", "not a duration: 'soon'"),
        (cliargs.duration, "5d", "not a duration: '5d'"),
        (cliargs.duration, "-1s", "must be a finite duration, zero or more, not -1s"),
        (cliargs.duration, "infs", "must be a finite duration, zero or more, not infs"),
        (cliargs.positive_duration, "0m", "must be a positive duration, not 0m"),
        (cliargs.json_value, "{n: 1}", "not JSON (Expecting property name"),
        (cliargs.json_value, "@/no/such/file.json", "cannot read '/no/such/file.json'"),
        (cliargs.version, "7", "not a version such as 7.4: '7'"),
        (cliargs.version, "seven.4", "not a version such as 7.4: 'seven.4'"),
        (cliargs.timestamp, "tomorrow", "not an ISO 8601 time: 'tomorrow'"),
        (cliargs.timestamp, "2027-01-31T12:00:00", "give the time's offset"),
        (cliargs.names, "a,,b", "expected names separated by commas"),
    ],
)
def test_refused_values_say_why(parse: Callable[[str], Any], text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        parse(text)
    assert str(refused.value).startswith(message)


def test_argparse_reports_a_refused_value_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cliargs.Parser(prog="spillway")
    parser.add_argument("--rate", type=cliargs.non_negative)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--rate", "-1"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "spillway: error: argument --rate: must be zero or more, not -1 (see `spillway --help`)\n"
    )


def test_fail_is_one_line_and_exit_2_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cliargs.fail("--out x already exists")
    assert exited.value.code == 2
    assert capsys.readouterr().err == "spillway: error: --out x already exists\n"
    with pytest.raises(SystemExit) as exited:
        cliargs.fail("the API did not become ready", status=1)
    assert exited.value.code == 1


def test_deferred_imports_the_command_only_when_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "late_command.py").write_text("ran = []\n\ndef go(args):\n    ran.append(args)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "late_command", raising=False)
    command = cliargs.deferred("late_command", "go")
    assert "late_command" not in sys.modules
    args = argparse.Namespace(x=1)
    command(args)
    assert sys.modules["late_command"].ran == [args]
    monkeypatch.delitem(sys.modules, "late_command")


def test_json_value_reads_a_file_after_an_at(tmp_path: Path) -> None:
    path = tmp_path / "payload.json"
    path.write_text('{"n": 2}')
    assert cliargs.json_value(f"@{path}") == {"n": 2}
