"""Hostile input files: each is reported once with a reason, and never costs the rest.

Every case runs `sourced index` (the real CLI, hash embedder) on a folder holding one
good article plus the case's files, then checks the exit code, the report on stderr,
and that the good article (and anything the case should keep) is answerable.
docs/reliability.md is generated from CASES and checked here, so it cannot drift.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.ingest.readers import reader as sources
from tests.helpers import ROOT, unblock_fifo_later

HOSTILE = ROOT / "tests" / "data" / "hostile"
GOOD = "---\ntitle: Osprey returns to the loch\nwebUrl: https://example.org/osprey\n---\nThe osprey returned to the loch for the ninth summer running.\n"
GOOD_QUESTION = "osprey returned to the loch"


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    files: tuple[str, ...] = ()  # from tests/data/hostile
    skipped: str | None = None  # reason the bad file is skipped (substring)
    warning: str | None = None  # reason reported while still indexing it
    answerable: tuple[tuple[str, str], ...] = ()  # (question, title expected first)
    setup: str | None = None  # name of a runtime set-up (large or OS-level files)
    documents: int | None = None  # documents expected in the index, good article included
    extra: dict = field(default_factory=dict)


CASES = [
    Case("fm-not-yaml", "Front matter that is not YAML", ("fm-not-yaml.md",), skipped="front matter is not valid YAML"),
    Case("fm-not-closed", "Front matter never closed", ("fm-not-closed.md",), skipped="never closed"),
    Case("fm-list", "Front matter that is a YAML list", ("fm-list.md",), skipped="not a mapping"),
    Case(
        "fm-wrong-types",
        "Wrong field types (`title: [1,2]`, `publishedDateTime: yesterday`, `webUrl: 42`)",
        ("fm-wrong-types.md",),
        warning="'title' should be text",
        answerable=(
            (
                "kingfisher riverbank nesting",
                "Wrong-typed fields do not lose this kingfisher article about riverbank nesting.",
            ),
        ),
    ),
    Case("fm-yaml-bomb", "YAML alias bomb (billion laughs)", ("fm-yaml-bomb.md",), skipped="aliases"),
    Case("fm-deep-nesting", "YAML nested 20,000 levels deep", ("fm-deep-nesting.md",), skipped="front matter"),
    Case("empty", "Empty file", ("empty.txt",), skipped="empty file"),
    Case("whitespace", "Whitespace-only file", ("whitespace.txt",), skipped="empty file"),
    Case("png", "Binary file (PNG) with a .txt name", ("photo.txt",), skipped="PNG image"),
    Case("nul", "Text with NUL bytes", ("nul-bytes.txt",), skipped="binary file"),
    Case("huge-line", "A 50 MB single-line file (generated)", setup="huge_line", skipped="larger than the 8 MB limit"),
    Case("latin1", "Latin-1 text", ("latin1.txt",), answerable=(("héron cendré pêche écluse", "Le héron cendré"),)),
    Case("utf16", "UTF-16 text with BOM", ("utf16.txt",), answerable=(("glossy ibis strait", "Ibis migration"),)),
    Case(
        "bom",
        "UTF-8 BOM before front matter",
        ("bom.md",),
        answerable=(("pelican colony lagoon", "Pelican colony grows"),),
    ),
    Case(
        "crlf",
        "CRLF line ends",
        ("crlf.md",),
        answerable=(("white storks church towers", "Stork nests on church towers"),),
    ),
    Case(
        "mojibake",
        "Mojibake (`flockâ€™s`)",
        ("mojibake.txt",),
        answerable=(("flamingo pink colour shrimp", "Flamingo flock"),),
        extra={"text": "flock’s pink colour"},
    ),
    Case(
        "html-no-text",
        "HTML with only scripts, styles and iframes",
        ("scripts-only.html",),
        skipped="no main article text",
    ),
    Case(
        "jsonl-broken",
        "JSONL with a broken line in the middle",
        ("broken-line.jsonl",),
        skipped="line 2: not valid JSON",
        answerable=(("puffins burrows cliff", "Puffin burrows"), ("gannets dive sea", "Gannet dives")),
    ),
    Case("symlink-loop", "Symbolic link loop", setup="symlink_loop", skipped="cannot read"),
    Case("unreadable", "Unreadable file (permission denied)", setup="unreadable", skipped="permission denied"),
    Case("vanished", "File deleted while indexing runs", setup="vanished", skipped="disappeared while reading"),
    Case(
        "rewritten",
        "File rewritten while indexing runs",
        setup="rewritten",
        answerable=(("heron rewritten version", "Rewritten heron"),),
    ),
    Case(
        "symlink-outside",
        "A symbolic link out of the folder (`notes.txt -> ../secret.txt`, as to `/etc/passwd`)",
        setup="symlink_outside",
        skipped="symbolic link to outside the folder; not read",
        documents=1,
    ),
    Case(
        "fifo",
        "A FIFO named like an article (opening it would wait forever, holding the writer lock)",
        setup="fifo",
        skipped="not a regular file (a FIFO)",
        documents=1,
    ),
    Case(
        "bad-date",
        "A date out of range (`0001-01-01T00:00:00+01:00`) in front matter and in a JSONL line",
        ("bad-date.md", "bad-date.jsonl"),
        warning="'publishedDateTime' is not a date",
        answerable=(
            ("merlin pipits heather moor", "Merlin over the moor"),
            ("dipper waterfall larvae", "Dipper under the waterfall"),
            ("wren hawthorn hedge", "Wren in the hedge"),
        ),
        documents=4,
        extra={"undated": ("Merlin over the moor", "Dipper under the waterfall")},
    ),
    Case(
        "reader-failure",
        "A failure nobody foresaw while reading one file (simulated)",
        setup="reader_failure",
        skipped="could not be read (RuntimeError: simulated",
        documents=1,
    ),
    Case(
        "duplicates",
        "The same article under two names",
        ("dup-one.txt", "dup-two.txt"),
        warning="indexed once",
        answerable=(("winter cormorant count reservoir", "Cormorant count"),),
        documents=2,
    ),
    Case(
        "related-link",
        "An article whose link is in another file's `related:` list",
        ("related-parent.md", "related-child.md"),
        answerable=(("avocets estuary thirty pairs", "Avocets return to the estuary"),),
        documents=3,
    ),
]


def _huge_line(folder: Path, monkeypatch) -> str:
    with open(folder / "huge.txt", "wb") as f:
        chunk = b"spam " * 200_000  # 1 MB, no newline
        for _ in range(50):
            f.write(chunk)
    return "huge.txt"


def _symlink_loop(folder: Path, monkeypatch) -> str:
    os.symlink(folder / "loop-b.txt", folder / "loop-a.txt")
    os.symlink(folder / "loop-a.txt", folder / "loop-b.txt")
    return "loop-a.txt"


def _unreadable(folder: Path, monkeypatch) -> str:
    target = folder / "secret.txt"
    target.write_text("Secret\n\nYou cannot read this.\n")
    target.chmod(0)
    real = sources.read_bytes

    def read_bytes(file: Path) -> bytes:
        # Running as root ignores file modes, so enforce the mode the way a user sees it.
        if file.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real(file)

    monkeypatch.setattr(sources, "read_bytes", read_bytes)
    return "secret.txt"


def _vanished(folder: Path, monkeypatch) -> str:
    (folder / "zz-vanishing.txt").write_text("Vanishing\n\nThis file is deleted before it is read.\n")
    real = sources.read_bytes

    def read_bytes(file: Path) -> bytes:
        if file.name == "good.md":  # read first; delete the other file meanwhile
            (folder / "zz-vanishing.txt").unlink(missing_ok=True)
        return real(file)

    monkeypatch.setattr(sources, "read_bytes", read_bytes)
    return "zz-vanishing.txt"


def _rewritten(folder: Path, monkeypatch) -> str:
    (folder / "zz-heron.txt").write_text("Original heron\n\nThe first version of the heron story.\n")
    real = sources.read_bytes

    def read_bytes(file: Path) -> bytes:
        if file.name == "good.md":
            (folder / "zz-heron.txt").write_text("Rewritten heron\n\nThe heron story, rewritten version.\n")
        return real(file)

    monkeypatch.setattr(sources, "read_bytes", read_bytes)
    return "zz-heron.txt"


def _symlink_outside(folder: Path, monkeypatch) -> str:
    secret = folder.parent / "secret.txt"  # beside the folder, as /etc/passwd would be
    secret.write_text("Secret kestrel\n\nThe private kestrel password is hunter2.\n")
    os.symlink(secret, folder / "notes.txt")
    return "notes.txt"


def _fifo(folder: Path, monkeypatch) -> str:
    os.mkfifo(folder / "pipe.txt")
    unblock_fifo_later(folder / "pipe.txt", seconds=10)
    return "pipe.txt"


def _reader_failure(folder: Path, monkeypatch) -> str:
    (folder / "trigger.txt").write_text("Trigger\n\nThis file meets a bug in the reader.\n")
    real = sources.decode

    def decode(data: bytes) -> str:
        if b"meets a bug" in data:
            raise RuntimeError("simulated bug")
        return real(data)

    monkeypatch.setattr(sources, "decode", decode)
    return "trigger.txt"


SETUPS = {
    "symlink_outside": _symlink_outside,
    "fifo": _fifo,
    "reader_failure": _reader_failure,
    "huge_line": _huge_line,
    "symlink_loop": _symlink_loop,
    "unreadable": _unreadable,
    "vanished": _vanished,
    "rewritten": _rewritten,
}


def ask_json(question: str) -> dict:
    result = CliRunner().invoke(main, ["ask", "--json", question])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, cli_env, monkeypatch):
    folder = cli_env / "articles"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD)
    bad_names = []
    for name in case.files:
        shutil.copy(HOSTILE / name, folder / name)
        bad_names.append(name)
    if case.setup:
        bad_names.append(SETUPS[case.setup](folder, monkeypatch))

    result = CliRunner().invoke(main, ["index", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    if case.skipped:
        (name,) = bad_names
        reports = [line for line in lines if line.startswith("skipped:") and name in line]
        assert len(reports) == 1, lines  # reported once, with its path...
        assert case.skipped in reports[0]  # ...and a human reason
        if (folder / name).exists() or (folder / name).is_symlink():  # a vanished file is gone for good
            strict = CliRunner().invoke(main, ["index", "--strict", "--rebuild", str(folder)])
            assert strict.exit_code == 3
    else:
        assert not [line for line in lines if line.startswith("skipped:")], lines
    if case.warning:
        assert any(line.startswith("warning:") and case.warning in line for line in lines), lines
    # The good article around the bad file is indexed and answerable.
    assert ask_json(GOOD_QUESTION)["hits"][0]["title"] == "Osprey returns to the loch"
    for question, title in case.answerable:
        hits = ask_json(question)["hits"]
        assert hits[0]["title"] == title, [h["title"] for h in hits]
        if case.extra.get("text"):
            assert case.extra["text"] in hits[0]["text"]
        if title in case.extra.get("undated", ()):  # kept, without the date it could not hold
            assert hits[0]["published"] is None, hits[0]
    if case.documents is not None:
        docs = json.loads(CliRunner().invoke(main, ["sources", "--json"]).stdout)["articles"]
        assert len(docs) == case.documents


def test_two_indexers_at_once_the_second_refuses(cli_env):
    from retrieval.store import FolderStore

    store = FolderStore(cli_env / "index")
    with store.writer_lock():
        result = CliRunner().invoke(main, ["index", str(ROOT / "data" / "articles")])
    assert result.exit_code == 1
    assert "is being written by process" in result.stderr and "try again" in result.stderr


def render_reliability_doc() -> str:
    lines = [
        "# Reliability: hostile input",
        "",
        "Generated from `tests/unit/test_reliability.py` (`CASES`); the test suite fails if this file",
        "and the cases disagree. Regenerate with `.venv/bin/python -m tests.unit.test_reliability`.",
        "",
        "Every case runs `sourced index` on a folder with one good article plus the case's",
        "files, and asserts: exit code 0 (3 with `--strict` when a file is skipped), no",
        "traceback, the good article answerable, and the outcome below.",
        "",
        "| case | input | outcome (asserted) |",
        "|---|---|---|",
    ]
    for case in CASES:
        if case.skipped:
            outcome = f"skipped, reported once with its path: “…{case.skipped}…”"
        else:
            outcome = "indexed and answerable"
            if case.warning:
                outcome += f"; warning “…{case.warning}…”"
        if case.documents is not None:
            outcome += f"; {case.documents} documents in the index (good article included)"
        source = ", ".join(f"`tests/data/hostile/{f}`" for f in case.files) or f"made at test time ({case.setup})"
        lines.append(f"| {case.name} | {case.what} — {source} | {outcome} |")
    lines += [
        "",
        "Also tested elsewhere: a failed write (disk full) leaves the previous index live",
        "(`tests/unit/test_index.py`); a second `sourced index` while one runs refuses with a clear",
        "message (`test_two_indexers_at_once_the_second_refuses`); a typo or a missing source",
        "changes nothing (`tests/unit/test_collection.py`); kill -9 at every point of an add, a",
        "merge, a rebuild and a compaction leaves the index whole (`tests/integration/test_crash_points.py`).",
        "",
        "More hostile cases, each with its promise (tested in `tests/unit/test_sources.py` and",
        "`tests/unit/test_hostile_questions.py`):",
        "",
        "- A link to `/dev/zero`, a device, a FIFO or a `/proc` file named as a source: never opened"
        " for reading, reported “not read”. (A regular file named on its own is read where its"
        " link leads: the user named it. Only links met inside a folder must stay inside it.)",
        "- A file that grows while it is read: reading stops at its format's limit plus one byte,"
        " and it is skipped as too large.",
        "- A 2 GB JSONL file: streamed 64 kB at a time, so the memory reading takes does not grow"
        " with the file (`benchmarks/jsonl_memory.py` prints it); a too-long or undecodable line"
        " costs that line only.",
        "- A question holding an invalid UTF-8 byte or a lone surrogate: answered; invalid code"
        " points become U+FFFD before any backend sees them.",
        "- A failure on one line of `ask --json -`: that line gets a JSON error object, the other lines are answered.",
        "",
        *WEB_AND_COLLECTION_CASES,
        "## Hostile web servers",
        "",
        "Served by `tests/webserver.py` on 127.0.0.1 and asserted in `tests/unit/test_web_fetch.py`",
        "(and through `sourced add` in `tests/integration/test_web_sources.py`); figures in",
        "`benchmarks/hostile_fetch.py`. Each failure is one line for the user, and costs that URL only.",
        "",
        "| case | promise |",
        "|---|---|",
        *(f"| {case} | {promise} |" for case, promise in WEB_CASES),
        "",
    ]
    return "\n".join(lines)


# Issue 25: hostile feeds, pages and removals. Each line: the case, then the promise;
# asserted in the test named (through the CLI or the real bot cog).
WEB_AND_COLLECTION_CASES = [
    "## Web sources and the collection",
    "",
    "| case | promise (asserted in) |",
    "|---|---|",
    "| A valid RSS or Atom feed with no items yet | registered (exit 0, “no items yet”); its items are fetched at the "
    "next sync (`test_hostile_ingest.py::test_an_empty_feed_is_registered_and_its_items_come_at_the_next_sync`) |",
    "| A feed sent as `text/plain` or `text/html` | read as a feed by its root element "
    "(`test_a_feed_sent_as_text_or_html_is_read_by_its_content`); broken XML with no items is still refused |",
    "| A page on one site whose canonical link and `og:site_name` claim another (Reuters) | cited at the address "
    "it came from, the claim kept as a warning; shown as “Reuters (its real site)”; the real article added later "
    "is its own article, not merged (`test_a_page_cannot_cite_itself_as_another_site_nor_swallow_the_real_article`) |",
    "| `sourced remove` of a feed whose story a registered sitemap also lists, or of a folder holding a file "
    "registered on its own | the article stays, now under the remaining source; it goes when no source holds it "
    "(`test_removing_a_feed_keeps_the_stories_a_registered_sitemap_also_lists`, "
    "`test_removing_a_folder_keeps_a_file_in_it_that_is_registered_on_its_own`) |",
    "| `/add` in Discord of a feed with one item that answers 404 | the reply names the skipped item, the other "
    "items are indexed and `/follow` alerts are posted for them "
    "(`test_desk.py::test_add_of_a_feed_with_one_missing_item_names_it_indexes_the_rest_and_alerts`) |",
    "| A sync with more slow items than `web.sync_budget_seconds` (600) allows | items not started when it is spent "
    "are each named (“left for the next sync”) and fetched by the next sync although the feed answers 304; a "
    "source not started is “deferred” and keeps its articles "
    "(`test_a_sync_whose_budget_runs_out_names_what_it_left_and_the_next_sync_fetches_it`, "
    "`test_a_source_not_started_within_the_budget_keeps_its_articles_and_is_read_next_time`) |",
    "| kill -9 of a feed sync after `CURRENT` moved and before the HTTP cache is saved, or (old versions' order) "
    "with the cache saved before `CURRENT` moved | the next sync holds every item the feed lists "
    "(`test_crash_points.py::test_kill_during_a_feed_sync`) |",
    "",
    "## The index on disk",
    "",
    "| case | promise (asserted in) |",
    "|---|---|",
    "| `minhash.npy` truncated, replaced by garbage of the same size, or missing | `sourced doctor` names the "
    "segment and the file (exit 1) (`test_segment_checksums.py::test_doctor_names_the_damaged_segment_and_file`) |",
    "| One bit flipped in `meta.sqlite`, the passage or the sentence vectors; `postings.npz` truncated | "
    "`sourced doctor` names the segment and the file: its SHA-256 (written with the segment) does not match "
    "(`test_doctor_names_the_damaged_segment_and_file`) |",
    "| `ask` on an index with a truncated or missing segment file | one line: the segment, the file, and "
    "“Run `sourced doctor` …; `sourced index --rebuild` …” (sizes are checked at open, hashes by doctor) "
    "(`test_ask_on_a_damaged_index_says_in_one_line_which_segment_and_what_to_run`) |",
    "| A damaged `segment.json` | named by doctor (its checksum is in the generation's manifest) and by `ask` "
    "(`test_a_damaged_segment_json_is_named`) |",
    "| A segment written by an earlier version (no checksums) | readable as before; doctor says “no checksums "
    "(written by an earlier version)” (`test_a_segment_without_checksums_stays_readable_and_doctor_says_so`) |",
    "| The disk fills while SQLite writes a segment | “Could not write the index … (database or disk is full); "
    "the previous index is unchanged.” (`test_a_full_disk_while_writing_says_the_index_is_unchanged`) |",
    "| As root, the checkout (and so `.venv` with the PostgreSQL programs) or `--dir` under a private (0700) "
    "folder | `sourced db start` runs the server's programs from a copy under `/var/lib/sourced` (root's, "
    "writable by no one else) and keeps a private folder's data there, linked from it "
    "(`test_local_db.py::test_a_server_installed_and_kept_in_private_folders_runs_from_reachable_copies`, "
    "`test_a_copy_someone_else_could_change_is_refused`) |",
    "",
]


WEB_CASES = [
    (
        "Headers or body trickled a line at a time (robots.txt and redirect hops too)",
        "every request ends within `web.timeout_seconds`: “timed out (not finished within N s)”",
    ),
    (
        "Gzip bomb, `Content-Encoding: gzip` or `gzip, gzip` (robots.txt too)",
        "decompressed bytes count against `web.max_megabytes` as they are produced; memory stays"
        " near the cap: “larger than the N MB limit once decompressed”",
    ),
    ("Three or more stacked encodings, or one not asked for (br)", "refused before decoding, named"),
    (
        "A name that resolves to a private address, or rebinds between check and connect",
        "with private addresses refused (the bot): the connection goes only to the address checked",
    ),
    (
        "Private IPv4 inside IPv6 (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64, 6to4, Teredo) or as one number",
        "refused like the IPv4 address itself",
    ),
    (
        "robots.txt behind redirects",
        "up to five followed (RFC 9309), each hop checked; more is “unavailable” (allow all);"
        " a non-web or private hop allows nothing",
    ),
]


def test_reliability_doc_is_current():
    assert (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8") == render_reliability_doc()


if __name__ == "__main__":
    (ROOT / "docs" / "reliability.md").write_text(render_reliability_doc(), encoding="utf-8")
