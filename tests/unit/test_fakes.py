"""The fakes the bot tests use stand for discord.py's real objects: same names, same shape."""

import inspect
from types import SimpleNamespace

import discord
import pytest

from tests.fakes import (
    FakeChannel,
    FakeFollowup,
    FakeInteraction,
    FakeMessage,
    FakeResponse,
    FollowupLike,
    InteractionLike,
    MessageLike,
    ResponseLike,
)


def _members(protocol) -> set[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}
    return names


@pytest.mark.parametrize(
    "protocol, real",
    [
        (ResponseLike, discord.InteractionResponse),
        (FollowupLike, discord.Webhook),
        (InteractionLike, discord.Interaction),
        (MessageLike, discord.Message),
    ],
)
def test_each_protocol_names_only_what_discord_py_has(protocol, real):
    attributes = set(dir(real)) | set(getattr(real, "__slots__", ())) | set(getattr(real, "__annotations__", {}))
    missing = _members(protocol) - attributes
    assert not missing, f"{real.__name__} has no {sorted(missing)}"


def test_the_fakes_satisfy_their_protocols():
    log: list = []
    client = SimpleNamespace(context=None, user=SimpleNamespace(id=1))
    assert isinstance(FakeResponse(log), ResponseLike)
    assert isinstance(FakeFollowup(log), FollowupLike)
    assert isinstance(FakeInteraction(client), InteractionLike)
    assert isinstance(FakeMessage(client, "hi"), MessageLike)
    assert hasattr(FakeChannel(1), "typing")
