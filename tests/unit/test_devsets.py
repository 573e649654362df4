"""The dev sets' small desks (benchmarks/devsets/build.py) and their memo embedder."""

from __future__ import annotations

import numpy as np

from benchmarks.desks import MemoEmbedder, load_desks
from benchmarks.devsets.build import DESK_SIZES, closest_by_bm25, desks
from benchmarks.fit_answerable import OOF_KINDS, TRAIN_KINDS

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
    assert "a" not in row["others"] and sorted(row["others"]) == ["b", "c", "e"]  # every other, 5 < 20


def test_a_desk_holds_only_its_own_split_and_has_one_of_the_sizes():
    # 150 passages on one topic: every desk is full, and the test split's passages, however
    # close, are never in a train desk (nor their words in its BM25 statistics).
    corpus = {f"p{i:03d}": f"The council voted on facial recognition rule {i} for police cameras." for i in range(150)}
    split_of = {pid: "train" if i % 3 else "test" for i, pid in enumerate(corpus)}
    queries = {f"q{i}": (f"Which rule did the council vote on, number {i}?", f"rule {i} ") for i in range(1, 30, 3)}
    pairs = [(f"q{i}", f"p{i:03d}") for i in range(1, 30, 3)]
    rows = desks("train", pairs, corpus, queries, split_of)
    assert len(rows) == len(pairs)
    for row in rows:
        members = row["evidence"] + row["others"]
        assert len(members) in DESK_SIZES and len(set(members)) == len(members)
        assert all(split_of[p] == "train" for p in members)
    assert len({len(r["others"]) for r in rows}) > 1  # the sizes vary with the question


def test_the_answer_model_is_fitted_on_train_kinds_only():
    assert set(OOF_KINDS) <= set(TRAIN_KINDS)
    # Every fitted kind is a train split, or the off-topic calibration questions (their test
    # is the bundled set's off-topic questions, data/questions.yaml).
    assert all(k.endswith("_train") or k == "offtopic" for k in TRAIN_KINDS)


def test_the_shipped_desks_load_by_question_and_keep_to_their_split():
    train = load_desks("train")
    test = load_desks("test")
    assert len(train) > 300 and len(test) > 500
    assert not {p for r in train for p in r["evidence"] + r["others"]} & {
        p for r in test for p in r["evidence"] + r["others"]
    }
    some = {train[0]["query_id"], train[5]["query_id"]}
    assert {r["query_id"] for r in load_desks("train", some)} == some


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
