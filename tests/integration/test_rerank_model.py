"""The answer re-ranker with its real weights (assembled offline from the packaged model and
retrieval/embedding/models/rerank-news-v1.npz, run by onnxruntime int8). The weights are not
shipped (the stage is off by default: docs/quality.md); make them with
`benchmarks/train_reranker.py ../shared/benchmarks/realtimeqa-dev` to run this test."""

import numpy as np
import pytest

from retrieval.query.rerank import MODEL_FILE, MODELS_DIR, CrossEncoder

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (MODELS_DIR / MODEL_FILE).is_file(), reason="re-ranker weights not made here"),
]

QUESTION = "who urged Amazon to stop selling Rekognition?"
ANSWERING = (
    "A coalition of 90 civil and human rights groups sent letters to Amazon, Google and Microsoft "
    "urging them not to sell face surveillance technology to the government."
)
UNRELATED = "The recipe calls for three ripe bananas, flour, sugar and a pinch of salt."


def test_the_reranker_scores_an_answering_passage_above_an_unrelated_one():
    scorer = CrossEncoder()
    scores = scorer.score(QUESTION, [ANSWERING, UNRELATED])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    # Ordered right, though not confidently (0.38 vs 0.02 measured on 2026-12-03): one reason
    # the stage is off (docs/quality.md).
    assert scores[0] > 5 * scores[1], scores
    # Alone, the same pair scores differently (0.30 vs 0.38 on 2026-12-03): dynamic int8
    # quantisation scales activations over the whole batch, so a score depends on the
    # passages read with it. Only the order is stable enough to test.
    alone = scorer.score(QUESTION, [ANSWERING])
    assert alone[0] > 5 * scores[1] and abs(alone[0] - scores[0]) < 0.2
