"""Everything the CLI prints about results: rich text for people, JSON for scripts."""

from __future__ import annotations

from typing import Any

# Built in the library, so the web desk gives the same JSON; kept importable from here.
from retrieval.jsonout import answer_json as answer_json
from retrieval.jsonout import hit_json as hit_json
from retrieval.types import newer_label, reported_by


def console(stderr: bool = True):
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out.soft_wrap = True  # piped or captured: lines are never wrapped (a wrapped URL no longer opens)
    return out


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def print_report(report) -> None:
    """What a sync did, on stderr: each source, each file problem, then one summary line."""
    err = console()
    for problem in report.problems:
        if problem.note:
            err.print(f"{escape(problem.source)}: {escape(problem.reason)}")
            continue
        verb = "skipped" if problem.skipped else "warning"
        err.print(f"[yellow]{verb}[/]: {escape(problem.source)}: {escape(problem.reason)}")
    for source in report.sources:
        name = escape(source.key)
        if source.status == "unreadable":
            kept = (
                f"; its {_articles(source.articles)} {'stays' if source.articles == 1 else 'stay'}"
                f" until `sourced remove {name}`"
                if source.articles
                else "; nothing was added from it"
            )
            err.print(f"[red]error[/]: {name}: {escape(source.reason or 'cannot be read')}{kept}")
        elif source.status == "duplicate":
            err.print(f"{name}: {escape(source.reason or 'already a source; nothing to do')}")
        elif source.status == "removed" and source.samples:
            err.print(
                f"The {source.removed + source.kept} sample articles made way for your own ({name}); "
                "bring them back with `sourced add --samples`."
            )
        elif source.status == "deferred":
            err.print(f"[yellow]warning[/]: {name}: not read, {escape(source.reason or 'left for the next sync')}")
        elif source.status == "removed" and source.kept:
            err.print(
                f"removed {name} and {source.removed} of its articles; {source.kept} stay, held by another source"
            )
        elif source.status == "removed":
            err.print(f"removed {name} and its {_articles(source.removed)}")
        elif source.listed == 0 and not source.articles:
            # A valid feed with nothing in it yet (a new or quiet feed) is registered.
            verb = "added" if source.status == "added" else "synced"
            err.print(f"{verb} {name}: a {source.kind} with no items yet; they are fetched at the next sync")
        else:
            verb = "added" if source.status == "added" else "synced"
            err.print(
                f"{verb} {name}: {_articles(source.articles)} ({source.added} new, {source.updated} changed, "
                f"{source.removed} gone, {source.unchanged} unchanged)"
            )
    statuses = {s.status for s in report.sources}
    if not report.written and statuses and statuses <= {"duplicate", "unreadable"}:
        return  # the lines above said it: nothing was read, nothing changed
    if statuses == {"removed"}:
        # Nothing was read: say what is left, not "Indexed ... from 0 files".
        err.print(
            f"The collection now holds {report.documents} document{'s' if report.documents != 1 else ''} "
            f"({report.chunks} chunk{'s' if report.chunks != 1 else ''}) "
            f"in {report.where or report.index_dir}."
        )
        return
    if not report.written:
        err.print(
            f"Index is up to date: {report.documents} documents, {report.chunks} chunks; nothing to embed "
            f"({report.seconds:.1f} s)."
        )
        return
    err.print(
        f"Indexed {report.documents} documents ({report.chunks} chunks) from {report.files_read} {'file or page' if report.files_read == 1 else 'files or pages'} into "
        f"{report.where or report.index_dir}: {report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped, {report.merged} merged as duplicates; "
        f"{report.chunks_embedded} passages and {report.sentences_embedded} sentences embedded in {report.seconds:.1f} s"
        + (f" ({report.segments} segment{'s' if report.segments != 1 else ''})." if report.segments else ".")
    )


def _articles(n: int) -> str:
    return f"{n} article" if n == 1 else f"{n} articles"


def print_answer(answer) -> None:
    out = console(stderr=False)
    if answer.understood:
        out.print(f"[dim italic]Searching: {escape(answer.question)} · {escape(answer.understood)}[/]")
    if not answer.hits and answer.excluded:
        out.print(
            f"No article in the collection is within the filters set ({escape(answer.excluded)}): nothing was searched."
        )
        return
    if not answer.hits:
        out.print("Nothing in the collection matches this question.")
        return
    if not answer.answered:
        out.print("[yellow]No passage answers this well; the closest ones (low confidence):[/]")
    marked = not answer.answered
    for hit in answer.hits:
        doc = hit.document
        if not marked and hit.label and hit.label != "strong":
            # Filler: what a list of k still shows once the answers run out.
            out.print("\n[dim]── below the answering threshold ──[/]")
            marked = True
        title = escape(doc.title)
        if doc.url:
            title = f"[link={doc.url}]{title}[/link]"
        figure = f"relevance {hit.strength:.2f} · {_LABEL_STYLE.get(hit.label, '')}{hit.label}[/]" if hit.label else ""
        out.print(f"\n[bold]{hit.rank}. {title}[/]  [dim]{figure}[/]")
        meta = " · ".join(x for x in (doc.outlet, doc.published.date().isoformat() if doc.published else None) if x)
        if meta:
            out.print(f"   [cyan]{escape(meta)}[/]")
        # Never wrap a link: a URL broken over two lines no longer opens.
        where = f"   [blue underline]{escape(doc.url)}[/]" if doc.url else f"   source: {escape(doc.source)}"
        out.print(where, no_wrap=True, overflow="ignore", crop=False)
        out.print(_indent(_marked(hit)))
        notes = []
        if hit.more_in_document:
            s = "s" if hit.more_in_document > 1 else ""
            notes.append(f"{hit.more_in_document} more passage{s} from this article: sourced show {doc.id} --passages")
        if hit.duplicates:
            notes.append("also reported by " + reported_by(hit.duplicates))
        if notes:
            out.print(f"   [dim]({escape('; '.join(notes))})[/]")
        if hit.newer is not None:
            print_newer(out, hit.newer, hit.newer_rank)


def print_newer(out, doc, rank: int | None = None) -> None:
    """ "newer coverage: Outlet, date" with its link, under a hit; when that article is
    shown in the same answer, which result it is instead of the link."""
    shown = f" (result {rank})" if rank is not None else ""
    out.print(f"   [magenta]newer coverage: {escape(newer_label(doc))}{shown}[/]")
    if doc.url and rank is None:
        out.print(f"   [blue underline]{escape(doc.url)}[/]", no_wrap=True, overflow="ignore", crop=False)


def print_timeline(answer) -> None:
    """A timeline: date, outlet, title and the answering sentence, oldest first."""
    out = console(stderr=False)
    if answer.understood:
        out.print(f"[dim italic]Searching: {escape(answer.question)} · {escape(answer.understood)}[/]")
    if not answer.hits:
        out.print("No passage in the collection answers this; no timeline.")
        return
    for hit in answer.hits:
        doc = hit.document
        when = doc.published.date().isoformat() if doc.published else "undated"
        title = escape(doc.title)
        if doc.url:
            title = f"[link={doc.url}]{title}[/link]"
        outlet = f" · {escape(doc.outlet)}" if doc.outlet else ""
        out.print(f"\n[bold cyan]{when}[/]{outlet}  [bold]{title}[/]", overflow="fold")
        out.print(_indent(escape(hit.highlight or hit.text)))
        if doc.url:
            out.print(f"   [blue underline]{escape(doc.url)}[/]", no_wrap=True, overflow="ignore", crop=False)
        if hit.duplicates:
            out.print(f"   [dim](also reported by {escape(reported_by(hit.duplicates))})[/]")


_LABEL_STYLE = {"strong": "[green]", "fair": "[yellow]", "weak": "[red]"}


def _marked(hit) -> str:
    """The passage with its best-answering sentence in bold."""
    if hit.highlight_start is None:
        return escape(hit.text)
    a, b = hit.highlight_start, hit.highlight_end
    return escape(hit.text[:a]) + "[bold yellow]" + escape(hit.text[a:b]) + "[/]" + escape(hit.text[b:])


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else "" for line in text.splitlines())


def print_bench_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{result['dataset']} ({result['split']} split); sourced ask uses: {result['default']}")
    columns = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "queries_per_s"]
    table.add_column("system")
    for column in columns:
        table.add_column(column, justify="right")
    for row in result["rows"] + result.get("references", []):
        table.add_row(row["system"], *(_fmt(row.get(c)) for c in columns))
    console(stderr=False).print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value >= 10 else f"{value:.4f}"
