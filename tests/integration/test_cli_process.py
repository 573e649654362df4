"""The installed `sourced` command as a shell runs it: pipes, and what importing it costs."""

import ast
import os
import subprocess
import sys

SOURCED = [sys.executable, "-m", "retrieval.cli"]


def test_a_closed_pipe_ends_quietly():
    # `sourced config | head -0`: the reader is gone before the first line is written (closed
    # before the process starts, so no timing decides whether the write fails).
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.Popen([*SOURCED, "config"], stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    _, err = proc.communicate(timeout=60)
    assert err == b"", err.decode()
    assert proc.returncode == 1


def _loaded_after(args: list[str]) -> list[str]:
    code = (
        "import sys; import retrieval.cli; from click.testing import CliRunner; "
        f"CliRunner().invoke(retrieval.cli.main, {args!r}); "
        "print(sorted(m for m in ('bot', 'bot.app', 'discord', 'torch', 'faiss', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    return ast.literal_eval(out.stdout.strip())


def test_the_cli_loads_neither_discord_nor_heavy_libraries():
    # Listing the commands loads bot/cli.py (the `serve` entry point) but never discord.
    assert _loaded_after(["--help"]) == ["bot"]
    # A library command does not touch the bot package at all.
    assert _loaded_after(["ask", "--help"]) == []
