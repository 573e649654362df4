"""A news site on 127.0.0.1 for tests: article pages with real page furniture, RSS and
Atom feeds, a sitemap, robots.txt, and every failure a fetcher must survive, hostile
ones included (trickled headers and bodies, gzip bombs, robots.txt behind redirects). It
counts requests and honours If-None-Match / If-Modified-Since, so conditional GET and
robots can be checked. Nothing here touches the internet."""

from __future__ import annotations

import functools
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_SECONDS = 3.0
TRICKLE_LINES = 40  # a trickling route sends this many header lines or body pieces...
TRICKLE_SECONDS = 0.1  # ...one every this long: 4 s in all, far past the tests' deadline


def article_page(
    slug: str, title: str, body: list[str], outlet: str = "The Daily Bugle", date: str = "2024-05-01"
) -> str:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in body)
    return f"""<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>{title} | {outlet}</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{outlet}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{date}T09:30:00Z">
<link rel="canonical" href="/news/{slug}">
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a>
<a href="/subscribe">Subscribe</a></nav></header>
<main><article>
<h1>{title}</h1>
<p class="byline">By Jane Doe</p>
{paragraphs}
</article>
<aside class="most-read"><h2>Most read</h2><ul><li><a href="/x">Celebrity chef opens bakery</a></li>
<li><a href="/y">Ten tips for a tidy garden</a></li></ul></aside>
<div class="newsletter">Sign up for our morning newsletter and never miss a story.</div>
</main>
<footer><p>Copyright 2024 The Daily Bugle. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>"""


ARTICLES = {
    "council-bans-face-recognition": (
        "Council bans facial recognition in city departments",
        [
            "The city council voted on Tuesday to ban facial recognition software in every city department, "
            "the first such ban in the state.",
            "Council member Ana Ruiz, who wrote the ordinance, said the vote was unanimous and that the police "
            "department had not used the software since last year.",
            "Civil liberties groups welcomed the decision and urged neighbouring towns to follow.",
        ],
    ),
    "harbour-bridge-reopens": (
        "Harbour bridge reopens after two years of repairs",
        [
            "The harbour bridge reopened to traffic on Monday after repairs that took two years and cost "
            "forty million pounds.",
            "Engineers replaced the deck and strengthened the towers, the transport authority said.",
        ],
    ),
    "library-extends-hours": (
        "Central library extends its opening hours",
        [
            "The central library will stay open until ten in the evening from next month, the city said.",
            "Librarians said students had asked for longer hours during exam season.",
        ],
    ),
}


def rss(items: list[str], base: str) -> str:
    entries = "\n".join(
        f"<item><title>{ARTICLES.get(s, (s,))[0]}</title><link>{base}/news/{s}</link>"
        f"<pubDate>Wed, 01 May 2024 09:30:00 GMT</pubDate></item>"
        for s in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>The Daily Bugle</title><link>{base}/</link>
<description>News</description>{entries}</channel></rss>"""


def atom(items: list[str], base: str) -> str:
    entries = "\n".join(
        f'<entry><title>{ARTICLES.get(s, (s,))[0]}</title><link href="{base}/news/{s}"/>'
        f"<id>{base}/news/{s}</id><updated>2024-05-01T09:30:00Z</updated></entry>"
        for s in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>The Daily Bugle</title><id>{base}/</id>
<updated>2024-05-01T09:30:00Z</updated>{entries}</feed>"""


def _gzip(pieces: object) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [z.compress(piece) for piece in pieces]  # type: ignore[attr-defined]
    return b"".join([*out, z.flush()])


@functools.cache
def gzip_bomb(megabytes: int, layers: int = 1) -> bytes:
    """``megabytes`` MiB of zeros, gzipped ``layers`` times (64 MiB: 65 KB once; 128 MiB
    twice: 373 bytes). Built on first use, a MiB at a time, and kept for the process."""
    block = bytes(1 << 20)
    body = _gzip(block for _ in range(megabytes))
    for _ in range(layers - 1):
        body = _gzip([body])
    return body


@dataclass
class Route:
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream_bytes: int = 0  # send this many bytes of filler, in chunks, with no Content-Length
    trickle_headers: bool = False  # send TRICKLE_LINES filler header lines, TRICKLE_SECONDS apart
    trickle_body: bool = False  # send the body in TRICKLE_LINES pieces, TRICKLE_SECONDS apart
    make_body: Callable[[], bytes] | None = None  # a body built when first asked for (bombs)


class NewsSite:
    """``with NewsSite() as site:`` serves ``site.routes`` at ``site.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.conditional_hits: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.trickled: Counter[str] = Counter()  # header lines or body pieces a trickling route sent
        self.hung_up: set[str] = set()  # paths whose client went away before the response ended
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests the site was serving at once
        self._count = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with site._count:
                    site.in_flight += 1
                    site.most_in_flight = max(site.most_in_flight, site.in_flight)
                self._counted = True
                try:
                    self._get()
                finally:
                    self.end_request()

            def end_request(self) -> None:
                # Called before the last bytes go out: once the client has them it may send
                # its next request, which must not find this one still counted.
                if self._counted:
                    self._counted = False
                    with site._count:
                        site.in_flight -= 1

            def _get(self) -> None:
                path = self.path.split("?")[0]
                site.hits[path] += 1
                site.user_agents.add(self.headers.get("User-Agent", ""))
                route = site.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Type", "text/html")
                    self.end_request()
                    self.end_headers()
                    self.wfile.write(b"<html><body>Not found</body></html>")
                    return
                if route.delay:
                    time.sleep(route.delay)
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                if inm or ims:
                    site.conditional_hits[path] += 1
                if (route.etag and inm == route.etag) or (route.last_modified and ims == route.last_modified):
                    self.send_response(304)
                    self.end_request()
                    self.end_headers()
                    return
                if route.trickle_headers:
                    self._trickle_headers(path, route)
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                if route.stream_bytes:
                    self.send_header("Connection", "close")
                    self.end_request()
                    self.end_headers()
                    sent = 0
                    try:
                        while sent < route.stream_bytes:
                            self.wfile.write(b"<p>" + b"x" * 65_536 + b"</p>")
                            sent += 65_543
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                body = route.make_body() if route.make_body else route.body
                self.send_header("Content-Length", str(len(body)))
                self.end_request()
                self.end_headers()
                try:
                    if route.trickle_body:
                        step = -(-len(body) // TRICKLE_LINES)
                        self._trickle(path, [body[i : i + step] for i in range(0, len(body), step)])
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    site.hung_up.add(path)

            def _trickle(self, path: str, pieces: list[bytes]) -> None:
                for piece in pieces:
                    self.wfile.write(piece)
                    site.trickled[path] += 1
                    time.sleep(TRICKLE_SECONDS)

            def _trickle_headers(self, path: str, route: Route) -> None:
                # The status line at once, then one header line at a time: every read the
                # client makes gets a byte soon, so only an overall deadline can stop it.
                self.send_response(route.status)
                self.flush_headers()
                try:
                    self._trickle(path, [f"X-Filler-{n}: {n}\r\n".encode() for n in range(TRICKLE_LINES)])
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_request()
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    site.hung_up.add(path)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.publish_defaults()

    def page(self, slug: str, title: str, body: list[str], **route: object) -> None:
        html = article_page(slug, title, body)
        self.routes[f"/news/{slug}"] = Route(body=html.encode(), **route)  # type: ignore[arg-type]

    def publish_defaults(self) -> None:
        for n, (slug, (title, body)) in enumerate(ARTICLES.items()):
            self.page(slug, title, body, etag=f'"v1-{n}"', last_modified=formatdate(1714555800 + n, usegmt=True))
        slugs = list(ARTICLES)
        self.routes["/robots.txt"] = Route(content_type="text/plain", body=b"User-agent: *\nDisallow: /private/\n")
        self.routes["/feed.xml"] = Route(
            content_type="application/rss+xml", body=rss(slugs, self.url).encode(), etag='"feed-1"'
        )
        self.routes["/atom.xml"] = Route(content_type="application/atom+xml", body=atom(slugs[:2], self.url).encode())
        urls = "".join(f"<url><loc>{self.url}/news/{s}</loc></url>" for s in slugs)
        self.routes["/sitemap.xml"] = Route(
            content_type="application/xml",
            body=f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
        )
        # Failures.
        self.routes["/slow"] = Route(body=b"<html><body><p>late</p></body></html>", delay=SLOW_SECONDS)
        self.routes["/huge"] = Route(stream_bytes=30_000_000)
        self.routes["/loop-a"] = Route(status=302, headers={"Location": "/loop-b"})
        self.routes["/loop-b"] = Route(status=302, headers={"Location": "/loop-a"})
        self.routes["/broken"] = Route(status=500, body=b"<html><body>Internal error</body></html>")
        self.routes["/report.pdf"] = Route(content_type="application/pdf", body=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj")
        self.routes["/junk"] = Route(body=bytes(range(256)) * 64)
        self.routes["/private/memo"] = Route(body=article_page("memo", "Private memo", ["Secret."]).encode())
        self.routes["/moved"] = Route(status=301, headers={"Location": "/news/harbour-bridge-reopens"})
        self.publish_hostile_ingest()
        # Hostile servers (issue 25): a deadline must stop the tricklers, the size cap the bombs.
        page = article_page("trickle", "Trickled story", ["Sent a line at a time."]).encode()
        self.routes["/trickle-headers"] = Route(body=page, trickle_headers=True)
        self.routes["/trickle-body"] = Route(body=page * 4, trickle_body=True)
        for path, megabytes, layers in (("/gzip-bomb", 64, 1), ("/gzip-bomb-double", 128, 2)):
            self.routes[path] = Route(
                headers={"Content-Encoding": ", ".join(["gzip"] * layers)},
                make_body=functools.partial(gzip_bomb, megabytes, layers),
            )

    def slow_feed(self, items: int, delay: float) -> list[str]:
        """/budget-feed.xml (with an ETag) lists ``items`` article pages that each take
        ``delay`` seconds to answer (issue 25 #11: a sync's budget); their paths."""
        slugs = [f"slow-{n}" for n in range(items)]
        for n, slug in enumerate(slugs):
            self.page(slug, f"Slow story number {n}", [f"Slow story {n} took its time."], delay=delay)
        self.routes["/budget-feed.xml"] = Route(
            content_type="application/rss+xml", body=rss(slugs, self.url).encode(), etag='"slow-1"'
        )
        return [f"/news/{slug}" for slug in slugs]

    def robots_behind_redirects(self, hops: int, body: bytes | None = None) -> None:
        """/robots.txt answers with ``hops`` redirects in a row before the real file (its
        present body unless ``body`` is given), as a site that moved its robots.txt does."""
        real = self.routes["/robots.txt"] if body is None else Route(content_type="text/plain", body=body)
        path = "/robots.txt"
        for n in range(1, hops + 1):
            self.routes[path] = Route(status=302, headers={"Location": f"/robots-hop-{n}.txt"})
            path = f"/robots-hop-{n}.txt"
        self.routes[path] = real

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ issue 25: feeds and citations
    # Kept in one block at the end so routes added elsewhere do not collide with these.

    def publish_hostile_ingest(self) -> None:
        """Feeds that are valid but empty or sent with a lying content type (#3), and pages
        that claim another site's canonical link and name (#4)."""
        slugs = list(ARTICLES)
        self.routes["/empty-rss.xml"] = Route(content_type="application/rss+xml", body=rss([], self.url).encode())
        self.routes["/empty-atom.xml"] = Route(content_type="application/atom+xml", body=atom([], self.url).encode())
        self.routes["/feed-as-text"] = Route(content_type="text/plain", body=rss(slugs[:2], self.url).encode())
        self.routes["/feed-as-html"] = Route(
            content_type="text/html; charset=utf-8", body=rss(slugs[:2], self.url).encode()
        )
        # A page posing as another site's article: its canonical link and og:site_name
        # name "Reuters" at localhost:PORT, which is another site than 127.0.0.1:PORT
        # (the same server, so the "real" article can be added too).
        self.routes["/hostile/spoof"] = Route(body=hostile_page(self.spoofed_url, "Reuters").encode())
        title, body = REAL_STORY
        self.routes["/news/real-story"] = Route(body=article_page("real-story", title, body, outlet="Reuters").encode())

    @property
    def spoofed_url(self) -> str:
        """Where the hostile page claims to be: this server under the name "localhost"."""
        return self.url.replace("127.0.0.1", "localhost") + "/news/real-story"


REAL_STORY = (
    "Port workers end three-week strike",
    [
        "Port workers voted on Thursday to end a three-week strike after the operator raised its pay offer, "
        "the union said.",
        "Ships that had waited off the coast began to unload on Friday morning.",
    ],
)


def hostile_page(canonical: str, outlet: str) -> str:
    """The real story's text, with another site's canonical link and name."""
    title, body = REAL_STORY
    return article_page("spoof", title, body, outlet=outlet).replace(
        '<link rel="canonical" href="/news/spoof">', f'<link rel="canonical" href="{canonical}">'
    )


def fake_dns(monkeypatch: object, answers: dict[str, Callable[[], list[str]]]) -> Counter[str]:
    """Resolve the names in ``answers`` to the addresses their function returns, asked
    afresh at each lookup (so a test can rebind a name); other names as usual. Returns
    the number of lookups per name."""
    real = socket.getaddrinfo
    lookups: Counter[str] = Counter()

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups[host] += 1
        infos = []
        for address in answers[host]():
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port or 0, 0, 0) if family == socket.AF_INET6 else (address, port or 0)
            infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)  # type: ignore[attr-defined]
    return lookups
