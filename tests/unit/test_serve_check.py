"""Issue 27, item 12: the Discord set-up, through the CLI, without connecting to Discord."""

from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import BUNDLED, HASH_CONFIG_YAML

BOT_ID = "123456789012345678"
TOKEN = base64.b64encode(BOT_ID.encode()).decode().rstrip("=") + ".GaBcDe." + "x" * 38
PERMISSIONS = 274877991936  # the README's invite link


@pytest.fixture
def run(cli_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    elsewhere = cli_env / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no .env in the current folder unless a test writes one

    def invoke(*args: str, settings: str = ""):
        (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + settings)
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    assert invoke("index", str(BUNDLED)).exit_code == 0
    return invoke


def test_a_good_set_up_passes_and_says_how_to_invite_the_bot(run, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    settings = f'bot:\n  threads: true\n  allowed_guilds: [{BOT_ID}]\n  collections:\n    "{BOT_ID}": tech\n'
    result = run("serve", "--check", settings=settings)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert (
        f"ok: token: from the environment (DISCORD_TOKEN), the shape of a bot token (bot id {BOT_ID})" in result.stdout
    )
    assert "ok: collection default: 15 articles" in result.stdout
    assert "ok: collection tech: empty" in result.stdout and "/add fills it" in result.stdout
    value = PERMISSIONS + (1 << 35)  # and Create Public Threads, for bot.threads
    assert f"client_id={BOT_ID}&scope=bot+applications.commands&permissions={value}" in result.stdout
    assert "Create Public Threads" in result.stdout


def test_every_problem_is_one_line_and_exit_1(run, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-token")
    settings = (
        "bot:\n  allowed_channels: [123]\n  allowed_guilds: [234567890123456789]\n  dev_guild: 345678901234567890\n"
    )
    result = run("serve", "--check", settings=settings)
    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    assert len(problems) == 3 and all(line.startswith("problem: ") for line in problems), problems
    assert "DISCORD_TOKEN does not look like a bot token" in problems[0] and "not-a-token" not in result.output
    assert problems[1].startswith("problem: bot.allowed_channels: 123 is not a Discord id")
    assert problems[2].startswith("problem: bot.dev_guild 345678901234567890 is not in bot.allowed_guilds")
    assert f"permissions={PERMISSIONS})" in result.stdout


def test_no_token_says_where_it_looked(run, cli_env):
    result = run("serve", "--check")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("problem: DISCORD_TOKEN is not set") and str(cli_env / "elsewhere" / ".env") in line
    assert str(cli_env / ".env") in line  # the config file's folder


@pytest.mark.parametrize("where", ["current folder", "config folder"])
def test_the_env_file_is_read_from_the_current_folder_and_the_config_folder(run, cli_env, where):
    folder = cli_env / "elsewhere" if where == "current folder" else cli_env
    (folder / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\n")
    result = run("serve", "--check")
    assert result.exit_code == 0, result.output
    assert f"ok: token: from {folder / '.env'}" in result.stdout


def test_serve_help_points_to_the_bot_settings():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "bot.allowed_channels" in text and "bot.collections" in text and "`sourced config`" in text
    assert "--check" in text and ".env" in text
