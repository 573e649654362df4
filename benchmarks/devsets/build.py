#!/usr/bin/env python
"""Build the dev sets of issue 29 from RealTime QA dev (``../shared/benchmarks/realtimeqa-dev``).

Writes, next to this script (question text, names and passage ids only; never passage text):

- ``names-train.jsonl`` / ``names-test.jsonl``: "Who is NAME?" / "What did NAME do?" for
  people named in only one or two passages of the pool. Train: names from 2020 passages
  (the ``train`` qrels), test: from 2021 ones; a name found in both years is left out.
  ``{"id", "q", "name", "passages"}``: a question is right when a shown passage contains
  ``name``.
- ``unknown-names-train.jsonl`` / ``unknown-names-test.jsonl``: the same templates for a
  name that is in no passage, made of a first name and a surname of two different people
  of that split (the surname alone is usually in the pool: a near miss, not gibberish).
  ``{"id", "q", "name"}``: these should abstain.
- ``quiz-unanswerable-train.jsonl`` / ``-test.jsonl``: a quiz question of the split asked
  with its evidence passage filtered out, kept only when no other passage of the pool
  contains the quiz answer. ``{"id", "query_id", "exclude"}`` (the question text is read
  from the dataset at measurement time): on topic for the pool, but not answered by it.
- ``desks-train.jsonl`` / ``desks-test.jsonl``: small topical collections, the size a
  community's desk starts at (20, 30, 50 or 100 passages). Each quiz question of the split
  gets the passages of its year closest to its evidence by BM25 (the evidence's words as
  the query), none holding the quiz answer: asked of ``others`` plus ``evidence`` it should
  be answered, of ``others`` alone (when ``unanswerable``: the answer is long enough to
  check) it should not. ``{"id", "query_id", "evidence", "others", "unanswerable"}``.
  A collection of 29 passages weighs a missing word otherwise than one of 1,020, so
  ``answered`` is fitted and measured on both (benchmarks/desks.py).

Names come from a capitalised-bigram heuristic (no NER is installed): two capitalised
words, neither a common capitalised non-name word, with a sign that it is a person (the
surname alone recurs in the passage, a title or role just before it, or "said", "says",
", who" just after). Deterministic: the same dataset gives the same files.

    PYTHONPATH=. .venv/bin/python benchmarks/devsets/build.py ../shared/benchmarks/realtimeqa-dev
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_NOT_NAMES = """The A An In On At For And But Or Of To From With By As This That These Those It Its His Her Their
    New North South East West Northern Southern Eastern Western United States Kingdom Nations Union
    President Vice Senator Sen Rep Gov Governor Mayor Secretary Minister Prime Chief Justice Judge
    Court Supreme House White Senate Congress Capitol Republican Republicans Democrat Democrats
    Democratic Party County City State Street Avenue University College School Company Inc Corp
    Co Ltd Group Department Agency Office Center Centre Institute Foundation Association Council
    Committee Commission Board Bureau Service Administration Police Army Navy Air Force National
    International American British Chinese Russian European African Asian Indian Japanese Korean
    Canadian Australian Mexican French German Italian Spanish Iranian Israeli Saudi Arab Muslim
    Christian Catholic Jewish Black Day Year Week Month Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday January February March April May June July August September October November
    December Covid Coronavirus Olympic Olympics Games Cup League World Super Bowl Award Awards
    Prize Museum Park Island Islands Lake River Mountain Mount Bay Beach Valley Hall Church Times
    Post Journal News Network Television TV Radio Festival Festive Christmas Easter Thanksgiving
    Halloween Black Friday Netflix Disney Apple Amazon Google Facebook Twitter Microsoft Tesla
    Instagram YouTube TikTok Uber Boeing Nasa NASA Space Station Mars Moon Earth Sun Global Federal
    General Grand Royal Prince Princess King Queen Lord Lady Sir Dr Mr Mrs Ms St Saint Pope
    Fox CNN CBS NBC ABC BBC Mrs Miss Oscar Oscars Grammy Grammys Emmy Emmys Golden Globe Globes
    Hollywood Broadway Best Top Big Great Old Young First Last Second Third Most Many Some Every
    Federal Reserve Wall Street Capital Health Care Medical Hospital Vaccine Pfizer Moderna
    Man Woman Men Women People Star Stars Wars Harry Potter Marvel Trump Biden Democratic Covid-19
    Los Angeles San Francisco Diego Jose Antonio Las Vegas Hong Kong Sri Lanka Puerto Rico Costa
    Rica Tel Aviv Buenos Aires Rio Janeiro Abu Dhabi Kuala Lumpur Sao Paulo Hunger Lives Matter
    Amendment Act Bill Law Constitution Declaration Day Independence Memorial Labor Veterans
    Airlines Airways Enterprises Diseases Disease Boys Girls Indigenous Auditorium Hurricane Storm
    Tropical Hot Stadium Arena Bank Fund Club Team Cup Series Open Championship Tour Records Music
    Studios Pictures Entertainment Media Press Foundation Trust Project Program Initiative Forces"""
NOT_NAMES = set(_NOT_NAMES.split())
TITLES = re.compile(
    r"(?:President|Sen\.|Senator|Rep\.|Gov\.|Governor|Dr\.|Mr\.|Ms\.|Mrs\.|Mayor|Secretary|Minister|"
    r"Judge|Justice|actor|actress|singer|star|CEO|rapper|coach|player|quarterback|director|leader|"
    r"founder|chief|author|writer|host|comedian|musician|artist|athlete|champion|golfer|swimmer|"
    r"gymnast|officer|spokesman|spokeswoman|attorney|lawyer|prosecutor|scientist|professor|"
    r"astronaut|designer|chef|producer|filmmaker|journalist|reporter|anchor|candidate|nominee|"
    r"activist|pitcher|guard|forward|striker|tennis|Pope|Prince|Princess|Queen|King|Sir|Lady)\s+$"
)
AFTER = re.compile(r"^(?:,? (?:said|says|told|who|wrote|added)\b|, (?:a|an|the|\d+)\b)")
BIGRAM = re.compile(r"(?<![\w'’.-])([A-Z][a-z]+(?:-[A-Z][a-z]+)?) ([A-Z][a-z]{1,}(?:-[A-Z][a-z]+)?)(?![\w'’-])")
TEMPLATES = ("Who is {}?", "What did {} do?")
DESK_SIZES = (20, 30, 50, 100)


def _load(folder: Path):
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            corpus[d["_id"]] = d["text"]
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            queries[d["_id"]] = (d["text"], str(d.get("metadata", {}).get("answer") or ""))
    splits = {}
    for split in ("train", "test"):
        rows = (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]
        splits[split] = [(r.split("\t")[0], r.split("\t")[1]) for r in rows if r.strip()]
    return corpus, queries, splits


def person_names(text: str) -> set[str]:
    """Capitalised bigrams in ``text`` that look like a person's name."""
    out = set()
    for m in BIGRAM.finditer(text):
        first, last = m.group(1), m.group(2)
        if first in NOT_NAMES or last in NOT_NAMES or len(first) < 2 or len(last) < 3:
            continue
        before, after = text[: m.start()], text[m.end() :]
        surname_again = re.search(rf"(?<!{first} )\b{re.escape(last)}\b", before + " " + after) is not None
        if surname_again or TITLES.search(before[-30:]) or AFTER.match(after):
            out.add(f"{first} {last}")
    return out


def _pick(key: str, n: int) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % n


def _contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text) is not None


def _words(text: str) -> list[str]:
    from retrieval.store.lexical import DEFAULT_PARAMS, tokenize

    return tokenize([text], DEFAULT_PARAMS)[0]


def closest_by_bm25(passages: dict[str, str], k1: float = 1.2, b: float = 0.75):
    """``closest(pid)``: the other passage ids, closest to ``pid`` first (BM25 of its words,
    ties by id), so a desk is on one topic without any embedding model choosing it."""
    import math
    from collections import Counter

    tokens = {pid: Counter(_words(text)) for pid, text in passages.items()}
    lengths = {pid: sum(c.values()) for pid, c in tokens.items()}
    mean = sum(lengths.values()) / max(1, len(lengths))
    postings: dict[str, list[str]] = {}
    for pid, counts in tokens.items():
        for word in counts:
            postings.setdefault(word, []).append(pid)
    n = len(passages)

    def closest(pid: str) -> list[str]:
        scores: dict[str, float] = {}
        for word in tokens[pid]:
            holders = postings[word]
            idf = math.log(1 + (n - len(holders) + 0.5) / (len(holders) + 0.5))
            for other in holders:
                if other != pid:
                    tf = tokens[other][word]
                    norm = k1 * (1 - b + b * lengths[other] / mean)
                    scores[other] = scores.get(other, 0.0) + idf * tf * (k1 + 1) / (tf + norm)
        ranked = sorted(scores, key=lambda o: (-scores[o], o))
        return ranked + sorted(o for o in passages if o != pid and o not in scores)

    return closest


def desks(split: str, pairs, corpus, queries, split_of) -> list[dict]:
    """The small collections of ``desks-<split>.jsonl`` (see the module's docstring)."""
    mine = {pid: text for pid, text in corpus.items() if split_of.get(pid) == split}
    closest = closest_by_bm25(mine)
    rows = []
    for qid, pid in pairs:
        if pid not in mine:
            continue
        answer = queries[qid][1].strip().lower()
        size = DESK_SIZES[_pick(qid + "|desk", len(DESK_SIZES))]
        evidence = sorted(p for q, p in pairs if q == qid)
        others = [o for o in closest(pid) if o not in evidence and not (answer and answer in mine[o].lower())]
        rows.append(
            {
                "id": f"{split}-desk-{qid}",
                "query_id": qid,
                "evidence": evidence,
                "others": others[: size - len(evidence)],
                "unanswerable": len(answer) >= 3,
            }
        )
    return list({r["id"]: r for r in rows}.values())


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = Path(sys.argv[1])
    corpus, queries, splits = _load(folder)
    split_of = {pid: split for split, pairs in splits.items() for _, pid in pairs}
    found: dict[str, set[str]] = {}
    for text in corpus.values():
        for name in person_names(text):
            found.setdefault(name, set())
    # Bootstrap: a bigram whose first word is the first name of a signalled person counts too.
    firsts_seen = {n.split()[0] for n in found}
    for text in corpus.values():
        for m in BIGRAM.finditer(text):
            first, last = m.group(1), m.group(2)
            if first in firsts_seen and last not in NOT_NAMES and len(last) >= 3:
                found.setdefault(f"{first} {last}", set())
    for name in found:
        found[name] = {pid for pid, text in corpus.items() if _contains(text, name)}
    counts = {}
    for split in ("train", "test"):
        names = sorted(
            n for n, pids in found.items() if 1 <= len(pids) <= 2 and all(split_of.get(p) == split for p in pids)
        )
        rows = [
            {"id": f"{split}-name-{i}", "q": TEMPLATES[_pick(n, 2)].format(n), "name": n, "passages": sorted(found[n])}
            for i, n in enumerate(names)
        ]
        # Unknown names: a first name and a surname of two people of this split, never together.
        firsts = sorted({n.split()[0] for n in names})
        lasts = sorted({n.split()[1] for n in names})
        unknown = []
        texts = list(corpus.values())
        for i, n in enumerate(names):
            first = firsts[_pick(n + "|first", len(firsts))]
            last = lasts[_pick(n + "|last", len(lasts))]
            fake = f"{first} {last}"
            if fake in found or any(_contains(t, fake) for t in texts) or any(u["name"] == fake for u in unknown):
                continue
            unknown.append({"id": f"{split}-unknown-{i}", "q": TEMPLATES[_pick(fake, 2)].format(fake), "name": fake})
            if len(unknown) >= min(150, len(names) // 2):
                break
        quiz = []
        for qid, pid in splits[split]:
            answer = queries[qid][1].strip()
            if len(answer) < 3:
                continue
            elsewhere = [p for p, t in corpus.items() if p != pid and answer.lower() in t.lower()]
            if not elsewhere:
                quiz.append({"id": f"{split}-quiz-{qid}", "query_id": qid, "exclude": [pid]})
        stems = (
            ("names", rows),
            ("unknown-names", unknown),
            ("quiz-unanswerable", quiz),
            ("desks", desks(split, splits[split], corpus, queries, split_of)),
        )
        for stem, data in stems:
            path = HERE / f"{stem}-{split}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
            counts[path.name] = len(data)
    for name, n in counts.items():
        print(f"{name}: {n}")


if __name__ == "__main__":
    main()
