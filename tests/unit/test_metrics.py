"""Metric code checked on hand-computed cases."""

import math

import pytest

from retrieval.bench.metrics import first_match_rr, hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_perfect_and_empty():
    assert ndcg_at_k(["a", "b"], {"a", "b"}) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"a"}) == 0.0
    assert ndcg_at_k(["a"], set()) == 0.0


def test_ndcg_hand_computed():
    # relevant at ranks 2 and 4; two relevant in total.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["x", "a", "y", "b"], {"a", "b"}) == pytest.approx(dcg / idcg)
    # 0.6509...: the classic example
    assert ndcg_at_k(["x", "a", "y", "b"], {"a", "b"}) == pytest.approx(0.6509209, rel=1e-6)


def test_ndcg_cutoff_and_ideal_capped_at_k():
    ranked = ["x"] * 10 + ["a"]
    assert ndcg_at_k(ranked, {"a"}, k=10) == 0.0
    # 12 relevant documents, all 10 retrieved: ideal is capped at 10, so nDCG is 1.
    rel = {f"r{i}" for i in range(12)}
    assert ndcg_at_k([f"r{i}" for i in range(10)], rel, k=10) == pytest.approx(1.0)


def test_recall_and_mrr():
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}, k=2) == 0.25
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}, k=3) == 0.5
    assert mrr_at_k(["x", "y", "a"], {"a"}) == pytest.approx(1 / 3)
    assert mrr_at_k(["x"] * 10 + ["a"], {"a"}, k=10) == 0.0


def test_hit_and_rr():
    assert hit_at_k([False, True], 1) == 0.0 and hit_at_k([False, True], 2) == 1.0
    assert first_match_rr([False, False, True]) == pytest.approx(1 / 3)
    assert first_match_rr([False]) == 0.0
