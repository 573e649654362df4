"""The web desk through the ASGI test client: the API gives the CLI's JSON, the page shows
what an answer needs, hostile input stays text, limits answer 4xx in JSON, and many
questions at once are all answered, searched off the event loop."""

from __future__ import annotations

import ast
import asyncio
import json
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from retrieval.cli import main
from retrieval.config import build_config
from tests.helpers import BUNDLED, ROOT, build, service_for
from webdesk.app import CSP, MAX_QUERY_BYTES, create_app
from webdesk.limits import RateLimiter, client_address

QUESTION = "who urged Amazon to stop selling Rekognition?"


def desk_config(**web_desk):
    return build_config(
        {
            "embedding": {"model": "hash"},
            "search": {"min_score": 0.1},
            "web_desk": {"questions_per_minute": 0, **web_desk},
        }
    )


@pytest.fixture
def index_dir(tmp_path):
    folder = tmp_path / "index"
    build(desk_config(), folder, [BUNDLED])
    return folder


@pytest.fixture
def client(index_dir):
    config = desk_config()
    with TestClient(create_app(service_for(config, index_dir), config)) as c:
        yield c


def cli_json(tmp_path, index_dir, *args) -> dict:
    config = tmp_path / "cli.yaml"
    config.write_text("embedding:\n  model: hash\nsearch:\n  min_score: 0.1\n")
    result = CliRunner().invoke(main, ["--config", str(config), *args, "--index-dir", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_time(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "took_ms"}


# --- the API gives the CLI's objects ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "options"),
    [
        ({"q": QUESTION}, []),
        ({"q": "facial recognition police", "k": "3"}, ["-k", "3"]),
        (
            {"q": "facial recognition", "k": "10", "since": "2020-06-14", "until": "2020-06-30"},
            ["-k", "10", "--since", "2020-06-14", "--until", "2020-06-30"],
        ),
        ({"q": "facial recognition", "outlet": "CNET"}, ["--outlet", "CNET"]),
    ],
)
def test_api_ask_is_the_object_ask_json_prints(client, tmp_path, index_dir, params, options):
    response = client.get("/api/ask", params=params)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    api = response.json()
    cli = cli_json(tmp_path, index_dir, "ask", params["q"], *options)
    assert without_time(api) == without_time(cli)
    assert api["hits"], "the comparison must compare hits"
    assert isinstance(api["took_ms"], float)


def test_as_of_shows_nothing_published_after_that_day(client):
    everything = client.get("/api/ask", params={"q": "facial recognition", "k": "20"}).json()["hits"]
    dates = sorted(h["published"][:10] for h in everything if h["published"])
    day = dates[len(dates) // 2]
    hits = client.get("/api/ask", params={"q": "facial recognition", "k": "20", "as_of": day}).json()["hits"]
    assert hits and all(h["published"][:10] <= day for h in hits)
    assert any(h["published"][:10] == day for h in hits)  # the day itself is included


def test_api_sources_is_the_object_sources_json_prints(client, tmp_path, index_dir):
    response = client.get("/api/sources")
    assert response.status_code == 200
    assert response.json() == cli_json(tmp_path, index_dir, "sources")
    assert len(response.json()["articles"]) == 15


def test_healthz_reports_the_live_generation_and_the_last_sync(client, index_dir):
    from retrieval.store import FolderStore

    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["collection"] == "default"
    assert health["generation"] == FolderStore(index_dir).current_name()
    assert health["last_sync"] and health["last_sync"][:4] >= "2024"


def test_openapi_document_lists_the_api(client):
    schema = client.get("/api/openapi.json").json()
    assert {"/api/ask", "/api/sources", "/healthz"} <= set(schema["paths"])
    assert "/" not in schema["paths"] or "get" in schema["paths"]["/"]


# --- the page -----------------------------------------------------------------------------


def test_page_shows_the_answer_with_its_sources(client):
    api = client.get("/api/ask", params={"q": QUESTION}).json()
    response = client.get("/", params={"q": QUESTION})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    first = api["hits"][0]
    from markupsafe import escape  # as the page's templates escape

    assert escape(first["title"]) in html
    assert escape(first["outlet"]) in html and first["published"][:10] in html
    assert f"<strong>{escape(first['highlight'])}</strong>" in html
    assert escape(first["url_highlight"]) in html and "#:~:text=" in first["url_highlight"]
    # Hits in the API's order, each with an anchor and a permalink that can be shared.
    positions = [html.index(f'id="r{h["rank"]}"') for h in api["hits"]]
    assert positions == sorted(positions)
    assert 'href="/?q=who+urged+Amazon+to+stop+selling+Rekognition%3F#r1"' in html
    assert '<input type="search" id="q" name="q" value="who urged Amazon to stop selling Rekognition?"' in html
    assert "<script" not in html
    # Each hit's figure follows the order and carries its word, as in the terminal and Discord.
    shown = [f"relevance {h['strength']:.2f} · {h['label']}" for h in api["hits"]]
    assert all(s in html for s in shown)
    assert [h["strength"] for h in api["hits"]] == sorted((h["strength"] for h in api["hits"]), reverse=True)


def test_page_filters_by_outlet_and_date_and_lists_the_outlets(client):
    html = client.get("/", params={"q": "facial recognition", "outlet": "CNET", "since": "2019-01-01"}).text
    assert '<option value="CNET" selected>CNET</option>' in html
    assert 'name="since" value="2019-01-01"' in html
    api = client.get("/api/ask", params={"q": "facial recognition", "outlet": "CNET", "since": "2019-01-01"}).json()
    assert api["hits"] and all(h["outlet"] == "CNET" for h in api["hits"])
    assert html.count('<li id="r') == len(api["hits"])


def test_page_says_when_the_filters_leave_nothing_to_search(client):
    # It said "nothing in it matches", as if the articles did not hold the question's words.
    html = client.get("/", params={"q": "facial recognition", "since": "2099-01-01"}).text
    assert "No article in the collection is within the filters set (since 2099-01-01): nothing was searched." in html
    assert '<li id="r' not in html and "nothing in it matches" not in html
    api = client.get("/api/ask", params={"q": "facial recognition", "outlet": "Nonexistent"}).json()
    assert api["hits"] == [] and api["excluded"] == "outlet “Nonexistent”"
    kept = client.get("/api/ask", params={"q": "facial recognition", "outlet": "CNET"}).json()
    assert kept["hits"] and kept["excluded"] is None


def test_page_marks_low_confidence(index_dir):
    config = build_config({"embedding": {"model": "hash"}, "search": {"min_score": 0.99, "named_min_score": 0.99}})
    with TestClient(create_app(service_for(config, index_dir), config)) as client:
        html = client.get("/", params={"q": QUESTION}).text
    assert "The collection has no good answer" in html
    assert html.count('class="result low"') == html.count('<li id="r') > 0
    assert "low confidence</span>" in html


def test_page_without_a_question_is_the_search_box(client):
    response = client.get("/")
    assert response.status_code == 200
    assert '<form method="get" action="/"' in response.text and "Answers from 15 articles" in response.text
    assert 'href="/static/desk.css"' in response.text
    assert client.get("/static/desk.css").headers["content-type"].startswith("text/css")


def test_links_carry_the_proxy_path_prefix(index_dir):
    config = desk_config()
    with TestClient(create_app(service_for(config, index_dir), config), root_path="/desk") as client:
        html = client.get("/desk/", params={"q": QUESTION}).text
    assert 'action="/desk/"' in html and 'href="/desk/static/desk.css"' in html
    assert 'href="/desk/?q=who+urged' in html


def test_hostile_titles_outlets_and_text_are_shown_as_text(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    article = {
        "title": "<script>alert('title')</script> Council bans facial recognition",
        "outlet": '<img src=x onerror="alert(1)">Bugle',
        "url": 'https://example.org/a?x="><script>alert(2)</script>',
        "published": "2024-05-01",
        "text": "The council banned facial recognition. <script>alert('text')</script> It voted on Tuesday.",
    }
    (folder / "feed.jsonl").write_text(json.dumps(article) + "\n")
    config = desk_config()
    build(config, tmp_path / "index", [folder])
    with TestClient(create_app(service_for(config, tmp_path / "index"), config)) as client:
        response = client.get("/", params={"q": "facial recognition <script>alert('q')</script>"})
    html = response.text
    assert response.status_code == 200 and '<li id="r' in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; Council bans" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Bugle" in html
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'none'" in CSP and "unsafe-inline" not in CSP


def test_page_names_newer_coverage_and_points_at_it_when_shown(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    rows = [
        ("alice", "2020-01-10", "Daily Bugle", "Alice Smith was elected leader of the Acme party in Springfield."),
        ("bob", "2021-06-01", "Planet", "Members chose Bob Jones, who was elected leader of the Acme party."),
    ]
    lines = [
        json.dumps({"title": f"{n} story", "text": t, "url": f"https://news.example/{n}", "published": d, "outlet": o})
        for n, d, o, t in rows
    ]
    (folder / "feed.jsonl").write_text("\n".join(lines) + "\n")
    config = desk_config()
    build(config, tmp_path / "index", [folder])
    with TestClient(create_app(service_for(config, tmp_path / "index"), config)) as client:
        both = client.get("/", params={"q": "who was elected leader of the Acme party?", "k": "5"}).text
        one = client.get("/", params={"q": "who was Alice Smith, elected leader of the Acme party?", "k": "1"}).text
    # Both shown: the older one points at the newer one's result on the page.
    assert '<p class="newer">Newer coverage: <a href="#r' in both and "Planet, 2021-06-01</a> (result " in both
    # Only the older one shown: the newer one's link.
    assert '<p class="newer">Newer coverage: <a href="https://news.example/bob"' in one


# --- safety: limits, errors, read-only ----------------------------------------------------


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/api/ask?q=x", "/api/sources", "/healthz", "/nowhere", "/api/ask"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-content-type-options"] == "nosniff", path


@pytest.mark.parametrize(
    ("request_args", "status", "says"),
    [
        (("GET", "/api/ask"), 400, "Give a question"),
        (("GET", "/api/ask?q=%20%20"), 400, "Give a question"),
        (("GET", "/api/ask?q=" + "word%20" * 300), 400, "the limit is 1000"),
        (("GET", "/api/ask?q=x&k=0"), 400, "'k'"),
        (("GET", "/api/ask?q=x&k=many"), 400, "'k'"),
        (("GET", "/api/ask?q=x&since=sometime"), 400, "'since' must be a date"),
        (("GET", "/api/ask?q=x&since=2024-05-02&until=2024-05-01"), 400, "earlier"),
        (("GET", "/api/ask?q=" + "x" * (MAX_QUERY_BYTES + 1)), 414, "the limit is"),
        (("GET", "/nowhere"), 404, "Nothing at /nowhere"),
        (("POST", "/api/ask?q=x"), 405, "read-only"),
        (("PUT", "/api/sources"), 405, "read-only"),
        (("DELETE", "/"), 405, "read-only"),
        (("PATCH", "/static/desk.css"), 405, "read-only"),
    ],
)
def test_errors_are_json_with_one_message_and_a_4xx(client, request_args, status, says):
    response = client.request(*request_args)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"} and says in body["error"], body
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_a_request_body_over_the_limit_is_refused(client):
    response = client.request("GET", "/api/ask?q=x", content=b"x" * 5000)
    assert response.status_code == 413 and "read-only" in response.json()["error"]


def test_a_question_over_the_limit_on_the_page_is_refused_in_words(client):
    response = client.get("/", params={"q": "word " * 300})
    assert response.status_code == 400 and "the limit is 1000" in response.text and "Traceback" not in response.text


def test_an_unexpected_failure_is_one_json_message(index_dir):
    config = desk_config()
    service = service_for(config, index_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail /etc/passwd")

    service.ask = broken
    with TestClient(create_app(service, config), raise_server_exceptions=False) as client:
        response = client.get("/api/ask", params={"q": QUESTION})
    assert response.status_code == 500
    assert response.json() == {"error": "The desk failed unexpectedly; the failure is in its log."}


def test_every_route_is_read_only(client, index_dir):
    from retrieval.store import FolderStore

    for route in client.app.routes:
        methods = getattr(route, "methods", None) or {"GET", "HEAD"}  # the static files: GET and HEAD only
        assert methods <= {"GET", "HEAD"}, route.path
    before = FolderStore(index_dir).current_name()
    files = sorted(p.relative_to(index_dir) for p in index_dir.rglob("*"))
    for path in ("/", "/api/ask?q=x", "/api/sources", "/healthz", "/api/openapi.json"):
        assert client.get(path).status_code == 200
    assert FolderStore(index_dir).current_name() == before
    assert sorted(p.relative_to(index_dir) for p in index_dir.rglob("*")) == files


# --- rate limiting ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_gets_429_and_the_desk_keeps_answering_others(index_dir):
    clock = Clock()
    config = desk_config(questions_per_minute=6, burst=3, trust_forwarded_for=True)
    with TestClient(create_app(service_for(config, index_dir), config, clock=clock)) as client:
        burst = {"x-forwarded-for": "198.51.100.7"}
        statuses = [client.get("/api/ask", params={"q": QUESTION}, headers=burst).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = client.get("/api/ask", params={"q": QUESTION}, headers=burst)
        assert refused.headers["retry-after"] == "10" and "Too many questions" in refused.json()["error"]
        assert client.get("/", params={"q": QUESTION}, headers=burst).status_code == 429  # the page counts too
        # Others are answered meanwhile, and so is the same client for what is not a question.
        other = {"x-forwarded-for": "203.0.113.9, 198.51.100.8"}
        assert client.get("/api/ask", params={"q": QUESTION}, headers=other).status_code == 200
        assert client.get("/healthz", headers=burst).status_code == 200
        clock.now += 10  # one question per 10 s comes back
        assert client.get("/api/ask", params={"q": QUESTION}, headers=burst).status_code == 200
        assert client.get("/api/ask", params={"q": QUESTION}, headers=burst).status_code == 429


def test_forwarded_for_is_ignored_unless_trusted(index_dir):
    config = desk_config(questions_per_minute=1, burst=2)
    with TestClient(create_app(service_for(config, index_dir), config, clock=Clock())) as client:
        statuses = [
            client.get("/api/ask", params={"q": "x"}, headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 429]  # a new header each time does not make a new client


def test_rate_limiter_and_client_address():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert RateLimiter(per_minute=0, burst=1).take("a") == 0.0  # off
    scope = {"client": ("192.0.2.1", 5000), "headers": [(b"x-forwarded-for", b"1.1.1.1, 192.0.2.50")]}
    assert client_address(scope, False) == "192.0.2.1"
    assert client_address(scope, True) == "192.0.2.50"
    assert client_address({"client": None, "headers": []}, True) == "unknown"


def test_web_desk_settings_are_checked():
    from retrieval.config import ConfigError

    for bad in ({"burst": 0}, {"questions_per_minute": -1}, {"root_path": "desk"}, {"root_path": "/desk/"}):
        with pytest.raises(ConfigError, match="web_desk"):
            build_config({"web_desk": bad})


# --- many questions at once ---------------------------------------------------------------

CONCURRENT = 200
GATE_TIMEOUT_S = 60  # a deadlock guard only (the gate never opening), not a measure of speed


class GatedService:
    """The real service, each search held until every request has reached the desk."""

    def __init__(self, service) -> None:
        self.service = service
        self.all_received = threading.Event()
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.running = self.most_at_once = 0

    def ask(self, question, k=None, filters=None, **options):
        if not self.all_received.wait(GATE_TIMEOUT_S):
            self.all_received.set()
            raise RuntimeError("receiving the requests waited on the searches")
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            return self.service.ask(question, k, filters, **options)
        finally:
            with self.lock:
                self.running -= 1
                self.events.append(("searched", question))

    def __getattr__(self, name):
        return getattr(self.service, name)


def test_200_questions_at_once_are_all_received_first_then_all_answered(index_dir):
    config = desk_config()
    gated = GatedService(service_for(config, index_dir))
    app = create_app(gated, config)
    desk = app.state.desk

    async def recording(scope, receive, send):
        if scope["type"] == "http":
            gated.events.append(("received", scope["query_string"].decode()))
            if sum(1 for kind, _ in gated.events if kind == "received") == CONCURRENT:
                gated.all_received.set()
        await app(scope, receive, send)

    async def run():
        transport = httpx.ASGITransport(app=recording)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as http:
            return await asyncio.gather(
                *(
                    http.get("/api/ask" if i % 2 else "/", params={"q": f"facial recognition question {i}"})
                    for i in range(CONCURRENT)
                )
            )

    try:
        responses = asyncio.run(run())
    finally:
        desk.close()
    kinds = [kind for kind, _ in gated.events]
    assert kinds.count("received") == CONCURRENT and kinds.count("searched") == CONCURRENT
    # Every request reached the desk before any search completed: none waited on another's search.
    assert kinds.index("searched") == CONCURRENT, kinds[: CONCURRENT + 1]
    assert 1 <= gated.most_at_once <= desk.slots
    # All answered, each with its own question.
    for i, response in enumerate(responses):
        assert response.status_code == 200, response.text
        if i % 2:
            assert response.json()["question"] == f"facial recognition question {i}" and response.json()["hits"]
        else:
            assert f"facial recognition question {i}”" in response.text and '<li id="r' in response.text


# --- the direction of dependency ----------------------------------------------------------


def _imports(folder: Path) -> set[str]:
    names = set()
    for file in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_the_desk_never_imports_the_bot_and_nothing_imports_the_desk():
    assert not _imports(ROOT / "webdesk") & {"bot", "discord"}
    assert "webdesk" not in _imports(ROOT / "retrieval") | _imports(ROOT / "bot")


def test_library_wiring_is_imported_in_one_place():
    wiring_modules = (
        "retrieval.wiring",
        "retrieval.cli.context",
        "retrieval.store",
        "retrieval.embedding",
        "retrieval.query.service",
    )
    users = set()
    for file in (ROOT / "webdesk").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            cli_helpers = file.name == "cli.py" and getattr(node, "module", None) == "retrieval.cli.context"
            if isinstance(node, ast.ImportFrom) and node.module in wiring_modules and not cli_helpers:
                users.add(file.name)  # (cli.py takes CliContext and fail from the CLI, not a service)
    assert users == {"wiring.py"}


# ---------------------------------------------------------------- found by an adversarial try (2026-12-06)


def test_the_page_says_what_was_searched_and_where_the_answers_run_out(index_dir):
    config = build_config(
        {"embedding": {"model": "hash"}, "search": {"min_score": 0.3}, "web_desk": {"questions_per_minute": 0}}
    )
    with TestClient(create_app(service_for(config, index_dir), config)) as client:
        api = client.get("/api/ask", params={"q": f"{QUESTION} in 2018", "k": "8"}).json()
        html = client.get("/", params={"q": f"{QUESTION} in 2018", "k": "8"}).text
    assert api["understood"] and f"Searching: {api['understood']}" in html.replace("&#34;", '"')
    labels = [h["label"] for h in api["hits"]]
    assert api["answered"] and labels[0] == "strong" and labels[-1] != "strong"  # the case under test
    first_filler = next(h["rank"] for h in api["hits"] if h["label"] != "strong")
    assert html.count("Below the answering threshold") == 1
    assert html.index(f'id="r{first_filler - 1}"') < html.index("Below the answering threshold")
    assert html.index("Below the answering threshold") < html.index(f'id="r{first_filler}"')
    assert "published on or before" in html and 'name="as_of"' in html


def test_retry_after_is_rounded_up_so_waiting_it_out_is_enough():
    from webdesk.app import TooManyQuestions

    assert TooManyQuestions(1.2).retry_after == 2 and TooManyQuestions(0.01).retry_after == 1


def test_an_unreadable_index_is_a_503_that_names_no_path(tmp_path):
    config = desk_config()
    with TestClient(create_app(service_for(config, tmp_path / "nothing-here"), config)) as client:
        response = client.get("/api/ask", params={"q": QUESTION})
        page = client.get("/", params={"q": QUESTION})
    assert response.status_code == 503 and str(tmp_path) not in response.text
    assert page.status_code == 503 and str(tmp_path) not in page.text
    assert response.headers["cache-control"] == "no-store"


def test_answers_are_never_cached_and_no_redirect_echoes_the_host(client):
    assert client.get("/api/ask", params={"q": QUESTION}).headers["cache-control"] == "no-store"
    assert client.get("/static/desk.css").headers.get("cache-control") != "no-store"
    moved = client.get("/healthz/", headers={"host": "evil.example"}, follow_redirects=False)
    assert moved.status_code == 404 and "evil.example" not in moved.headers.get("location", "")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": QUESTION, "until": "9999-12-31"}, "out of range"),
        ({"q": QUESTION, "k": "١٠"}, "'k'"),
        ({"q": QUESTION, "k": "1_0"}, "'k'"),
        ({"q": "\u200b\u200b"}, "empty"),
    ],
)
def test_lenient_input_is_refused_in_words(client, params, says):
    response = client.get("/api/ask", params=params)
    assert response.status_code == 400 and says in response.json()["error"], response.json()


def test_control_characters_are_not_echoed_into_the_page(client):
    html = client.get("/", params={"q": "who\x00 urged\x01 Amazon?"}).text
    assert "\x00" not in html and "\x01" not in html
