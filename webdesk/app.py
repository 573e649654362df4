"""The web desk's ASGI application: the search page at ``/`` and the read-only HTTP API.

Every route is GET (HEAD too): nothing here can add a source or change the collection,
and the query service it is given reads the index only. Searches run in the desk's own
worker threads (one per core, as the bot's search slots), never on the event loop, so
a slow question never holds up the others; the rest wait their turn.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles

from retrieval import __version__
from retrieval.errors import QuestionError, SourcedError
from retrieval.jsonout import answer_json, collection_json

from .limits import RateLimiter, client_address

log = logging.getLogger("sourced.web")

HERE = Path(__file__).resolve().parent
# A question of search.max_question_chars (1000) in 3-byte UTF-8, percent-encoded, and the
# filters fit; anything longer is refused before it is parsed.
MAX_QUERY_BYTES = 12 * 1024
# Every route is GET: a request body is never read, and one past this is refused.
MAX_BODY_BYTES = 1024
MAX_K = 100
# No script of any kind (the page works without JavaScript), styles from the desk only,
# forms sent to the desk only, never framed.
CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
ROUTES_HELP = "The desk has /, /api/ask?q=…, /api/sources, /healthz and /api/openapi.json."


class BadRequest(Exception):
    """A parameter the desk cannot use; its text says which and why."""


class TooManyQuestions(Exception):
    def __init__(self, retry_after: float) -> None:
        # Rounded up: a client that waits exactly what it is told must be let in.
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"Too many questions from your address; try again in {seconds} s.")
        self.retry_after = seconds


@dataclass(frozen=True)
class Query:
    """A question with its options, parsed from the query string."""

    q: str | None
    k: int
    since: datetime | None
    until: datetime | None
    outlet: str | None
    source: str | None
    form: dict[str, str]  # the values as given, for the page's form and permalinks
    as_of: datetime | None = None  # the day taken as today (QueryService.ask(as_of=))

    def filters(self):
        from retrieval.query.ranking import Filters

        return Filters(since=self.since, until=self.until, outlet=self.outlet, source=self.source)


def parse_query(params, default_k: int) -> Query:
    """``q``, ``k``, ``since``, ``until`` (published on or before), ``as_of`` (nothing published
    after that day), ``outlet``, ``source``: as `sourced ask` takes them."""
    form = {
        key: _printable(params.get(key, "")).strip()
        for key in ("q", "k", "since", "until", "as_of", "outlet", "source")
    }
    k = default_k
    if form["k"]:
        # ASCII digits only: int() would also take "١٠" and "1_0".
        k = int(form["k"]) if form["k"].isascii() and form["k"].isdigit() else 0
        if not 1 <= k <= MAX_K:
            raise BadRequest(f"'k' (the number of results) must be a whole number from 1 to {MAX_K}.")
    from retrieval.query.when import as_of_bound, end_of_day, since_bound, until_bound

    # As `sourced ask` reads them (retrieval.query.when): a day in 'until' is all of it,
    # relative forms ("7d", "last week") count from the as-of day.
    as_of = _when("as_of", form["as_of"], as_of_bound) if form["as_of"] else None
    since = _when("since", form["since"], since_bound, as_of) if form["since"] else None
    until = _when("until", form["until"], until_bound, as_of) if form["until"] else None
    bound = min(until, end_of_day(as_of)) if until and as_of else until or (end_of_day(as_of) if as_of else None)
    if since and bound and since >= bound:
        raise BadRequest("'since' must be earlier than 'until' (and 'as_of').")
    q = params.get("q")
    return Query(q, k, since, until, form["outlet"] or None, form["source"] or None, form, as_of)


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(value: str) -> str:
    """A parameter as the page may echo it: no NUL or other control characters."""
    return _UNPRINTABLE.sub("", value)


def _when(name: str, value: str, parse, as_of: datetime | None = None) -> datetime:
    from retrieval.errors import QuestionError

    try:
        return parse(value, as_of)
    except QuestionError as exc:
        raise BadRequest(f"'{name}' must be a date: {exc}") from None


class Desk:
    """What the routes share: the service, the limits, the search threads."""

    def __init__(self, service, config, collection: str, clock: Callable[[], float] | None = None) -> None:
        self.service = service
        self.settings = config.web_desk
        self.default_k = config.search.k
        self.max_chars = config.search.max_question_chars
        self.collection = collection
        limiter_args = (self.settings.questions_per_minute, self.settings.burst)
        self.limiter = RateLimiter(*limiter_args, clock=clock) if clock else RateLimiter(*limiter_args)
        self.slots = max(1, os.cpu_count() or 1)
        self._executor: ThreadPoolExecutor | None = None
        self._facts: tuple[str | None, dict[str, Any]] | None = None

    async def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in one of the desk's search threads."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.slots, thread_name_prefix="sourced-web")
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def admit(self, request: Request) -> None:
        """Count a question from the request's client, or raise :class:`TooManyQuestions`."""
        wait = self.limiter.take(client_address(request.scope, self.settings.trust_forwarded_for))
        if wait:
            raise TooManyQuestions(wait)

    def ask(self, query: Query):
        return self.service.ask(query.q, k=query.k, filters=query.filters(), as_of=query.as_of)

    def facts(self) -> dict[str, Any]:
        """Outlets and counts for the page, read once per generation of the index."""
        generation = self.service.store.current_name()
        if self._facts is None or self._facts[0] != generation:
            stats = self.service.stats()
            outlets = [o for o in stats.outlets if o != "(unknown outlet)"]
            newest = stats.newest.date().isoformat() if stats.newest else None
            self._facts = (generation, {"documents": stats.documents, "outlets": sorted(outlets), "newest": newest})
        return self._facts[1]

    def health(self) -> dict[str, Any]:
        from retrieval.ingest.sources import read_state

        snap = self.service.snapshot()
        syncs = [s.last_sync for s in read_state(self.service.store.path).values() if s.last_sync]
        return {
            "status": "ok",
            "version": __version__,
            "collection": self.collection,
            "generation": snap.generation,
            "generation_created": snap.manifest.get("created"),
            "last_sync": max(syncs) if syncs else None,
        }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# --- the API --------------------------------------------------------------------------


async def api_ask(request: Request) -> Response:
    """
    summary: Answer a question with the best passages and their sources (the object `sourced ask --json` prints).
    parameters:
      - {name: q, in: query, required: true, schema: {type: string}, description: the question}
      - {name: k, in: query, schema: {type: integer, minimum: 1, maximum: 100}, description: number of passages}
      - {name: since, in: query, schema: {type: string, format: date}, description: published on or after}
      - {name: until, in: query, schema: {type: string, format: date}, description: published on or before this day}
      - {name: as_of, in: query, schema: {type: string, format: date}, description: nothing published after this day}
      - {name: outlet, in: query, schema: {type: string}, description: outlet name contains}
      - {name: source, in: query, schema: {type: string}, description: file name or link contains}
    responses:
      200: {description: "{question, answered, confidence, hits: [...], took_ms}"}
      400: {description: "{error}: a bad or missing parameter, a question over the size limit"}
      429: {description: "{error}: too many questions from this client (Retry-After says when)"}
    """
    desk: Desk = request.app.state.desk
    query = parse_query(request.query_params, desk.default_k)
    if not (query.q or "").strip():
        raise BadRequest("Give a question: /api/ask?q=who+urged+Amazon+to+stop+selling+Rekognition%3F")
    desk.admit(request)
    answer = await desk.run(desk.ask, query)
    return JSONResponse(answer_json(answer))


async def api_sources(request: Request) -> Response:
    """
    summary: The registered sources and the articles (the object `sourced sources --json` prints).
    responses:
      200: {description: "{sources: [...], articles: [...]}"}
    """
    desk: Desk = request.app.state.desk
    registered, articles = await desk.run(desk.service.collection)
    return JSONResponse(collection_json(registered, articles))


async def healthz(request: Request) -> Response:
    """
    summary: The live generation of the index and the last sync.
    responses:
      200: {description: "{status, version, collection, generation, generation_created, last_sync}"}
      503: {description: "{error}: the index cannot be read"}
    """
    desk: Desk = request.app.state.desk
    return JSONResponse(await desk.run(desk.health))


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.schemas.get_schema(routes=request.app.routes))


# --- the page --------------------------------------------------------------------------


def _templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)


def permalink(root: str, form: dict[str, str], default_k: int) -> str:
    params = {key: value for key, value in form.items() if value and not (key == "k" and value == str(default_k))}
    return f"{root}/?{urlencode(params)}" if params else f"{root}/"


def _newer_view(hit) -> dict[str, Any] | None:
    """ "Newer coverage: Outlet, date", linked to the article, or to its result on the page
    when it is shown there too."""
    from retrieval.types import newer_label

    if hit.newer is None:
        return None
    return {"label": newer_label(hit.newer), "rank": hit.newer_rank, "url": hit.newer.url}


def result_views(answer) -> list[dict[str, Any]]:
    """What the page shows of each hit, from the same JSON object the API answers with."""
    from retrieval.types import reported_by

    views = []
    for hit, data in zip(answer.hits, answer_json(answer)["hits"], strict=True):
        text, a, b = data["text"], data["highlight_start"], data["highlight_end"]
        if a is None or b is None:
            a = b = len(text)
        views.append(
            {
                "rank": data["rank"],
                "title": data["title"] or data["source"],
                "url": data["url"],
                "open_url": data["url_highlight"] or data["url"],
                "outlet": data["outlet"],
                "date": data["published"][:10] if data["published"] else None,
                "source": data["source"],
                "before": text[:a],
                "bold": text[a:b],
                "after": text[b:],
                # The figure that follows the order and its word, as the terminal and Discord show.
                "strength": data.get("strength", 0.0),
                "label": data.get("label", ""),
                # After the answers run out (as the terminal's "below the answering threshold").
                "filler": bool(data.get("label")) and data.get("label") != "strong",
                "more": data["more_in_document"],
                "also": reported_by(hit.duplicates) if hit.duplicates else None,
                "newer": _newer_view(hit),
            }
        )
    return views


async def page(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    root = request.scope.get("root_path", "").rstrip("/")
    status, headers = 200, {}
    context: dict[str, Any] = {
        "root": root,
        "collection": desk.collection,
        "max_chars": desk.max_chars,
        "max_k": MAX_K,
        "default_k": desk.default_k,
        "form": {
            key: _printable(request.query_params.get(key, "")).strip()
            for key in ("q", "k", "since", "until", "as_of", "outlet")
        },
        "error": None,
        "answer": None,
    }
    try:
        context["facts"] = await desk.run(desk.facts)
        query = parse_query(request.query_params, desk.default_k)
        context["form"] = query.form
        if query.q is not None:
            if not query.q.strip():
                raise BadRequest("Type a question in the box, e.g. “who urged Amazon to stop selling Rekognition?”")
            desk.admit(request)
            answer = await desk.run(desk.ask, query)
            link = permalink(root, query.form, desk.default_k)
            context["answer"] = {
                "question": answer.question,
                "answered": answer.answered,
                "understood": answer.understood,
                "excluded": answer.excluded,
                "results": result_views(answer),
                "permalink": link,
            }
    except (BadRequest, QuestionError) as exc:
        status, context["error"] = 400, str(exc)
    except TooManyQuestions as exc:
        status, context["error"] = 429, str(exc)
        headers["retry-after"] = str(exc.retry_after)
    except SourcedError as exc:
        status, context["error"] = 503, _unavailable(exc)
    context.setdefault("facts", None)
    html = request.app.state.templates.get_template("index.html").render(context)
    return HTMLResponse(html, status_code=status, headers=headers)


# --- errors and limits -----------------------------------------------------------------


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error(400, str(exc))


async def _too_many(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyQuestions)
    return _error(429, str(exc), {"retry-after": str(exc.retry_after)})


def _unavailable(exc: Exception) -> str:
    """What a client is told when the index cannot be read: that it is the desk's trouble,
    not where the index lives (the message, with its paths, goes to the desk's log)."""
    log.error("the index cannot be read: %s", exc)
    return "The desk's collection cannot be read right now; try again later (the reason is in the desk's log)."


async def _library_error(request: Request, exc: Exception) -> Response:
    # An index that cannot be read is the desk's trouble, not the client's.
    return _error(503, _unavailable(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        path = request.url.path if len(request.url.path) <= 200 else request.url.path[:200] + "…"
        message = f"Nothing at {path}. {ROUTES_HELP}"
    elif exc.status_code == 405:
        message = f"The desk is read-only: {request.method} is not allowed here, only GET. {ROUTES_HELP}"
    else:
        message = str(exc.detail)
    return _error(exc.status_code, message, dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected failure answering %s", request.url.path, exc_info=exc)
    return _error(500, "The desk failed unexpectedly; the failure is in its log.", SECURITY_HEADERS)


class Guard:
    """Refuses oversized query strings and any request body past :data:`MAX_BODY_BYTES`
    before routing, and adds the security headers to every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
                if not scope.get("path", "").startswith("/static/") and "cache-control" not in headers:
                    # Answers follow the index (and the rate limit): never kept by a cache.
                    headers["cache-control"] = "no-store"
            await send(message)

        problem = self._problem(scope)
        if problem:
            await _error(*problem)(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    @staticmethod
    def _problem(scope) -> tuple[int, str] | None:
        size = len(scope.get("query_string", b""))
        if size > MAX_QUERY_BYTES:
            return 414, f"The query string is {size} bytes; the limit is {MAX_QUERY_BYTES}. Ask a shorter question."
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return 400, "The Content-Length header is not a number."
                if length > MAX_BODY_BYTES:
                    return 413, f"The desk is read-only: request bodies over {MAX_BODY_BYTES} bytes are refused."
            elif key == b"transfer-encoding":
                return 413, "The desk is read-only: streamed request bodies are refused."
        return None


def create_app(service, config, collection: str = "default", clock: Callable[[], float] | None = None) -> Starlette:
    """The desk over ``service`` (a read-only QueryService) with ``config``'s settings;
    ``clock``: the rate limiter's (tests)."""
    desk = Desk(service, config, collection, clock)

    @asynccontextmanager
    async def lifespan(app):
        yield
        desk.close()

    app = Starlette(
        routes=[
            Route("/", page, methods=["GET"], name="page"),
            Route("/api/ask", api_ask, methods=["GET"]),
            Route("/api/sources", api_sources, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/openapi.json", openapi, methods=["GET"], include_in_schema=False),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(Guard)],
        exception_handlers={
            BadRequest: _bad_request,
            QuestionError: _bad_request,
            TooManyQuestions: _too_many,
            SourcedError: _library_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    # No redirect from "/healthz/" to "/healthz": it would be built from the Host header.
    app.router.redirect_slashes = False
    app.state.desk = desk
    app.state.templates = _templates()
    app.state.schemas = SchemaGenerator(
        {
            "openapi": "3.0.0",
            "info": {"title": "sourced web desk", "version": __version__, "description": "Read-only."},
        }
    )
    return app
