"""`parevm statetest`: what it prints, in both output modes, and its exit status."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parevm.cli import main

LEGACY_NAME = "twoForks"
EEST_NAME = "tests/prague/test_demo.py::test_demo[fork_Prague-state_test]"


def run_cli(capsys, *args: str) -> tuple[int, list[str], str]:
    status = main(["statetest", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def test_all_passing(fake_evm, statetest_data, capsys):
    status, out, err = run_cli(capsys, statetest_data / "legacy_two_forks.json",
                               statetest_data / "eest_with_state.json")
    assert status == 0
    assert out == ["4 passed, 0 failed"]
    assert err == ""  # no progress line when stderr is not a terminal


def test_failures_are_listed_with_what_differs(fake_evm, statetest_data, capsys):
    fake_evm.tweaks[(LEGACY_NAME, "Berlin", "1/0/0")] = lambda outcome: setattr(outcome, "rejected", None)
    status, out, _ = run_cli(capsys, statetest_data)
    assert status == 1
    assert out[0] == (f"FAIL {LEGACY_NAME} Berlin 1/0/0: "
                      "expected exception TR_IntrinsicGas, but the transaction was valid")
    assert out[1].startswith("ERROR ") and out[1].endswith(
        "malformed_missing_number.json: noNumber.env.currentNumber: missing")
    assert out[-1] == "3 passed, 2 failed"  # the malformed file counts as one failure
    assert len(out) == 3


def test_json_lines_and_first_state_difference(fake_evm, statetest_data, capsys):
    def wrong_balance(outcome):
        outcome.state_root = b"\x01" * 32
        nonce, balance, code, storage = outcome.post_state[b"\xcc" * 20]
        outcome.post_state[b"\xcc" * 20] = (nonce, balance + 1, code, storage)

    fake_evm.tweaks[(EEST_NAME, "Prague", "0/0/0")] = wrong_balance
    status, out, _ = run_cli(capsys, "--json", statetest_data)
    assert status == 1
    assert out[-1] == "3 passed, 2 failed"
    records = [json.loads(line) for line in out[:-1]]
    assert [(r["name"], r["fork"], r["index"], r["pass"]) for r in records] == [
        (EEST_NAME, "Prague", "0/0/0", False),
        (LEGACY_NAME, "Berlin", "0/0/0", True),
        (LEGACY_NAME, "Berlin", "1/0/0", True),
        (LEGACY_NAME, "Paris", "0/0/0", True),
        (None, None, None, False),
    ]
    failed = records[0]
    assert failed["stateRoot"] == "0x" + "01" * 32
    assert failed["error"] == (f"stateRoot 0x{'01' * 32} != expected 0x{'44' * 32}; "
                               "account 0xcccccccccccccccccccccccccccccccccccccccc balance 1 != expected 0")
    passed = records[3]
    assert passed["stateRoot"] == "0x" + "33" * 32 and passed["error"] is None
    assert passed["logsHash"] == "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
    assert records[4]["error"].endswith("noNumber.env.currentNumber: missing")


def test_fork_filter_accepts_aliases(fake_evm, statetest_data, capsys):
    status, out, _ = run_cli(capsys, "--json", "--fork", "merge", statetest_data / "legacy_two_forks.json")
    assert status == 0
    assert [json.loads(line)["fork"] for line in out[:-1]] == ["Paris"]
    assert out[-1] == "1 passed, 0 failed"


def test_unknown_fork_is_a_usage_error(fake_evm, statetest_data, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["statetest", "--fork", "Amsterdam", str(statetest_data)])
    assert exited.value.code == 2
    assert "unknown fork 'Amsterdam'" in capsys.readouterr().err


def test_slowest_vectors_are_listed(fake_evm, statetest_data, capsys):
    status, out, _ = run_cli(capsys, "--slowest", "2", statetest_data / "legacy_two_forks.json")
    assert status == 0
    assert out[0] == "slowest 2 vectors:"
    assert all(line.strip().split()[1] == LEGACY_NAME for line in out[1:3])
    assert out[-1] == "3 passed, 0 failed"


def test_parallel_output_is_identical(fake_evm, statetest_data, capsys):
    fake_evm.tweaks[(LEGACY_NAME, "Paris", "0/0/0")] = lambda outcome: setattr(outcome, "logs_hash", bytes(32))
    sequential = run_cli(capsys, "--jobs", "1", statetest_data)
    parallel = run_cli(capsys, "--jobs", "2", statetest_data)
    assert parallel == sequential
    assert sequential[1][-1] == "3 passed, 2 failed"


def test_missing_evm_exits_2(monkeypatch, statetest_data, capsys):
    monkeypatch.setitem(sys.modules, "parevm.statetest.execute", None)
    status, out, err = run_cli(capsys, statetest_data)
    assert status == 2 and out == []
    assert "EVM entry point is not available" in err


def test_python_dash_m_parevm_lists_statetest():
    completed = subprocess.run([sys.executable, "-m", "parevm", "--help"],
                               capture_output=True, text=True, check=True)
    assert "statetest" in completed.stdout


def test_run_does_not_import_the_other_subcommands():
    """`parevm run` pays only for its own imports: the CLI's other subcommands import their
    heavy modules in their handlers. Their --help still works without running them."""
    program = (
        "import sys\n"
        "from parevm.cli import build_parser\n"
        "build_parser().parse_args(['run', 'some_block'])\n"
        "heavy = ('parevm.statetest.loader', 'parevm.statetest.runner', 'parevm.workloads.bench')\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"
    for command in ("run", "statetest", "bench"):
        completed = subprocess.run([sys.executable, "-m", "parevm", command, "--help"],
                                   capture_output=True, text=True, check=True)
        assert completed.stdout.startswith(f"usage: parevm {command}")
    bench_help = completed.stdout
    assert "only this case (repeatable): erc20_transfers, value_transfers," in " ".join(bench_help.split())


def test_command_line_exit_keeps_all_output_and_the_status(tmp_path):
    """The installed command ends without interpreter teardown (`cli.command_line`): what it
    printed to a block-buffered file must all be there, and its exit status must be main's."""
    examples = Path(__file__).parent.parent / "examples" / "blocks"
    blocks = sorted(str(path) for path in examples.iterdir() if path.is_dir())
    output = tmp_path / "out.jsonl"
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    with output.open("wb") as out:
        completed = subprocess.run([sys.executable, "-m", "parevm", "run", *blocks, "--json"], stdout=out,
                                   env=buffered)
    assert completed.returncode == 0
    lines = output.read_bytes().splitlines()
    assert [json.loads(line)["ok"] for line in lines] == [True] * len(blocks)
    completed = subprocess.run([sys.executable, "-m", "parevm", "run", str(tmp_path / "missing")],
                               capture_output=True, text=True)
    assert completed.returncode == 1 and "not a directory" in completed.stdout + completed.stderr


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_a_terminal_stderr_only(fake_evm, statetest_data, capsys, monkeypatch):
    terminal = TerminalStream()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = main(["statetest", str(statetest_data / "legacy_two_forks.json")])
    assert status == 0
    assert capsys.readouterr().out == "3 passed, 0 failed\n"
    assert "\r1/1 files, 3 passed, 0 failed" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")  # the progress line is erased at the end
