"""The dev sets' small desks (benchmarks/devsets/build.py) and their memo embedder."""

from __future__ import annotations

import numpy as np

from benchmarks.desks import MemoEmbedder
from benchmarks.devsets.build import closest_by_bm25, desks

PASSAGES = {
    "a": "The city council banned facial recognition for the police on Tuesday.",
    "b": "Police facial recognition was banned by a second city council.",
    "c": "A football club won the league on a late goal.",
    "d": "The council voted on facial recognition rules for police cameras in Boston.",
    "e": "A bakery opened on the high street.",
}


def test_closest_by_bm25_puts_passages_on_the_same_topic_first_and_lists_every_other():
    order = closest_by_bm25(PASSAGES)("a")
    assert order[0] in {"b", "d"} and set(order[:2]) == {"b", "d"}
    assert sorted(order) == ["b", "c", "d", "e"]  # never itself, nothing left out


def test_a_desk_never_holds_the_answer_outside_its_evidence():
    queries = {"q1": ("Which city council voted on police cameras?", "Boston")}
    split_of = dict.fromkeys(PASSAGES, "train")
    (row,) = desks("train", [("q1", "a")], PASSAGES, queries, split_of)
    assert row["evidence"] == ["a"]
    assert "d" not in row["others"]  # it says "Boston": the desk without "a" would answer
    assert row["unanswerable"] is True
    assert "a" not in row["others"] and len(row["others"]) <= 19


def test_a_short_answer_cannot_be_checked_so_the_desk_is_asked_only_with_its_evidence():
    queries = {"q1": ("Who won?", "AC")}
    (row,) = desks("train", [("q1", "c")], PASSAGES, queries, dict.fromkeys(PASSAGES, "train"))
    assert row["unanswerable"] is False


class Counting:
    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts, batch_size=32, progress=None):
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    def embed_query(self, text):
        self.calls.append([text])
        return np.array([len(text), 0.0], dtype=np.float32)


def test_the_memo_embeds_each_text_once_and_keeps_the_order_asked():
    inner = Counting()
    memo = MemoEmbedder(inner)
    first = memo.embed(["aa", "b", "aa"])
    second = memo.embed(["b", "ccc"])
    assert [v[0] for v in first] == [2, 1, 2] and [v[0] for v in second] == [1, 3]
    assert inner.calls == [["aa", "b"], ["ccc"]]
    memo.embed_query("why?")
    memo.embed_query("why?")
    assert inner.calls[-1] == ["why?"] and len(inner.calls) == 3
