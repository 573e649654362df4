"""`sourced eval`: score the service on a user's own question set.

A question file is YAML::

    questions:
      - q: who urged Amazon to stop selling Rekognition?
        expect: ["coalition of 90 civil and human rights groups"]   # any phrase, in the passage
        source: 003_dda86c09921c1694.txt                             # and/or url: https://...
      - q: what is a good banana bread recipe?
        off_topic: true                                             # should not be answered
      - q: which Texas city banned police use of facial recognition?
        unanswerable: true                          # on topic, but the articles do not say

A hit matches when its passage contains one of the ``expect`` phrases (case and spacing
ignored) and, if given, its article has that ``url`` / ``source``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval import yamlio
from retrieval.bench.metrics import first_match_rr, hit_at_k
from retrieval.errors import ConfigError
from retrieval.types import Answer, Hit


@dataclass(frozen=True)
class EvalQuestion:
    q: str
    expect: tuple[str, ...] = ()
    url: str | None = None
    source: str | None = None
    off_topic: bool = False
    # On the collection's topic, but nothing in it answers the question: should abstain.
    unanswerable: bool = False

    @property
    def should_abstain(self) -> bool:
        return self.off_topic or self.unanswerable

    def matches(self, hit: Hit) -> bool:
        if self.url and (hit.document.url or "").rstrip("/") != self.url.rstrip("/"):
            return False
        if self.source and hit.document.source != self.source:
            return False
        if self.expect:
            text = _norm(hit.text)
            return any(_norm(p) in text for p in self.expect)
        return True


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[’‘]", "'", text).lower().split())


def load_questions(path: Path) -> list[EvalQuestion]:
    import yaml

    try:
        data = yamlio.load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read question file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Question file {path} is not UTF-8 text (byte {exc.start}).") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Question file {path} is not valid YAML: {yamlio.problem(exc)}.") from None
    items = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ConfigError(f"Question file {path} needs a list under 'questions:'.")
    known = {"q", "expect", "url", "source", "off_topic", "unanswerable", "note"}
    out = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("q"), str) or not item["q"].strip():
            raise ConfigError(f"Question {n} in {path} needs a 'q:' with the question text.")
        unknown = set(item) - known
        if unknown:
            raise ConfigError(f"Question {n} in {path} has unknown keys: {', '.join(sorted(unknown))}.")
        expect = item.get("expect") or ()
        expect = (expect,) if isinstance(expect, str) else tuple(str(e) for e in expect)
        question = EvalQuestion(
            q=item["q"],
            expect=expect,
            url=item.get("url"),
            source=item.get("source"),
            off_topic=bool(item.get("off_topic", False)),
            unanswerable=bool(item.get("unanswerable", False)),
        )
        if not question.should_abstain and not (question.expect or question.url or question.source):
            raise ConfigError(
                f"Question {n} in {path} needs 'expect', 'url' or 'source' (or off_topic / unanswerable: true)."
            )
        out.append(question)
    return out


@dataclass
class EvalReport:
    on_topic: int = 0
    off_topic: int = 0
    hit1: float = 0.0
    hit3: float = 0.0
    hit5: float = 0.0
    mrr: float = 0.0
    answered_rate: float = 0.0
    abstention_rate: float = 0.0
    unanswerable: int = 0
    unanswerable_abstention: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def abstained(self) -> list[dict[str, Any]]:
        """On-topic questions whose answer was among the hits, yet not answered (below
        the answering threshold): the threshold's misses, not the ranking's."""
        return [
            r
            for r in self.rows
            if not r["off_topic"] and not r.get("unanswerable") and r["rank"] is not None and not r["answered"]
        ]

    @property
    def misses(self) -> list[dict[str, Any]]:
        """Ranking misses: answerable questions with the expected article below rank 1 (or not
        in the hits at all), and questions that should abstain (off-topic, or on-topic the
        collection does not answer) answered."""
        abstained = self.abstained

        def should_abstain(r: dict[str, Any]) -> bool:
            return bool(r["off_topic"] or r.get("unanswerable"))

        return [
            r
            for r in self.rows
            if (should_abstain(r) and r["answered"])
            or (not should_abstain(r) and r["rank"] != 1 and r not in abstained)
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "questions": self.on_topic,
            "off_topic_questions": self.off_topic,
            "hit@1": round(self.hit1, 4),
            "hit@3": round(self.hit3, 4),
            "hit@5": round(self.hit5, 4),
            "mrr": round(self.mrr, 4),
            "answered_rate": round(self.answered_rate, 4),
            "off_topic_abstention": round(self.abstention_rate, 4),
            "unanswerable_questions": self.unanswerable,
            "unanswerable_abstention": round(self.unanswerable_abstention, 4),
            "found_but_abstained": len(self.abstained),
        }


def evaluate(questions: Sequence[EvalQuestion], answers: Sequence[Answer]) -> EvalReport:
    report = EvalReport()
    for question, answer in zip(questions, answers, strict=True):
        best = round(answer.confidence, 4)
        support = None if answer.support is None else round(answer.support, 4)
        if question.off_topic:
            report.off_topic += 1
            report.abstention_rate += 0.0 if answer.answered else 1.0
            report.rows.append(
                {
                    "q": question.q,
                    "off_topic": True,
                    "unanswerable": False,
                    "answered": answer.answered,
                    "rank": None,
                    "confidence": best,
                    "support": support,
                }
            )
            continue
        if question.unanswerable:
            report.unanswerable += 1
            report.unanswerable_abstention += 0.0 if answer.answered else 1.0
            report.rows.append(
                {
                    "q": question.q,
                    "off_topic": False,
                    "unanswerable": True,
                    "answered": answer.answered,
                    "rank": None,
                    "confidence": best,
                    "support": support,
                    "top": answer.hits[0].document.title if answer.hits else None,
                }
            )
            continue
        matches = [question.matches(h) for h in answer.hits]
        report.on_topic += 1
        report.hit1 += hit_at_k(matches, 1)
        report.hit3 += hit_at_k(matches, 3)
        report.hit5 += hit_at_k(matches, 5)
        report.mrr += first_match_rr(matches)
        report.answered_rate += 1.0 if answer.answered else 0.0
        rank = matches.index(True) + 1 if any(matches) else None
        report.rows.append(
            {
                "q": question.q,
                "off_topic": False,
                "unanswerable": False,
                "answered": answer.answered,
                "rank": rank,
                "confidence": best,
                "support": support,
                "top": answer.hits[0].document.title if answer.hits else None,
            }
        )
    if report.on_topic:
        for name in ("hit1", "hit3", "hit5", "mrr", "answered_rate"):
            setattr(report, name, getattr(report, name) / report.on_topic)
    if report.off_topic:
        report.abstention_rate /= report.off_topic
    if report.unanswerable:
        report.unanswerable_abstention /= report.unanswerable
    return report


# ---------------------------------------------------------------------- follow-ups

FOLLOWUP_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def load_followups(path: Path) -> list[dict[str, Any]]:
    """Pairs of a question and a follow-up with the phrases that answer the follow-up
    (data/followups.yaml)."""
    try:
        data = yamlio.load(Path(path).read_text(encoding="utf-8"))
        pairs = data["followups"]
        for pair in pairs:
            if not (pair["previous"] and pair["followup"] and pair["expect"]):
                raise KeyError("previous, followup and expect")
    except (OSError, KeyError, TypeError) as exc:
        raise ConfigError(f"Cannot read the follow-ups in {path}: {exc}") from None
    return pairs


def _answers_in_top(answer: Answer, expect: Sequence[str], k: int = 3) -> bool:
    return any(_norm(phrase) in _norm(hit.text) for hit in answer.hits[:k] for phrase in expect)


def evaluate_followups(service: Any, pairs: Sequence[dict[str, Any]], weights=FOLLOWUP_WEIGHTS) -> dict[str, Any]:
    """How many follow-ups are answered in the top 3 asked alone, and through the
    follow-up path at each weight (with the texts they were searched as)."""
    alone = [_answers_in_top(service.ask(p["followup"], k=5), p["expect"]) for p in pairs]
    rows = []
    for weight in weights:
        answers = [service.ask(p["followup"], k=5, previous=p["previous"], previous_weight=weight) for p in pairs]
        hits = [_answers_in_top(a, p["expect"]) for a, p in zip(answers, pairs, strict=True)]
        rows.append(
            {
                "weight": weight,
                "top3": sum(hits),
                "missed": [p["followup"] for p, h in zip(pairs, hits, strict=True) if not h],
                "searched": [a.question for a in answers],
            }
        )
    return {
        "pairs": len(pairs),
        "alone_top3": sum(alone),
        "alone_missed": [p["followup"] for p, h in zip(pairs, alone, strict=True) if not h],
        "rows": rows,
    }
