"""HTTP like a good citizen: one :class:`Fetcher` per sync.

- Connect/read timeouts and an overall deadline per request (a server that trickles
  bytes cannot hold a sync forever).
- A size cap enforced while the body streams in, and up front from Content-Length.
- Redirects followed one hop at a time, each hop checked against robots.txt, with a
  limit (a loop ends as "too many redirects").
- robots.txt per host (``urllib.robotparser``), fetched once per sync. As RFC 9309 says:
  a 4xx robots.txt allows everything; an unreachable or 5xx one allows nothing.
- Conditional GET: the ETag and Last-Modified of each URL are kept (``HttpCache``), so an
  unchanged page or feed answers 304 and is not downloaded again.
- A User-Agent naming sourced and its version; a per-host delay between requests and a
  bounded number of requests in flight.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from retrieval import __version__

USER_AGENT = f"sourced/{__version__} (+https://github.com/sourced-news/sourced; news research bot)"
CACHE_FILE = "http-cache.json"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class FetchError(Exception):
    """A URL could not be fetched; ``reason`` is one line for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case ("text/html")
    body: bytes
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class HttpCache:
    """Validators per URL (ETag, Last-Modified), kept beside the index. Advisory: losing it
    only means the next sync downloads everything once."""

    entries: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> HttpCache:
        try:
            data = json.loads((folder / CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls({k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {})

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{CACHE_FILE}.tmp"
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, folder / CACHE_FILE)

    def validators(self, url: str) -> dict[str, str]:
        entry = self.entries.get(url, {})
        headers = {}
        if entry.get("etag"):
            headers["If-None-Match"] = entry["etag"]
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        return headers

    def remember(self, url: str, response: Response) -> None:
        if response.etag or response.last_modified:
            self.entries[url] = {
                k: v for k, v in (("etag", response.etag), ("last_modified", response.last_modified)) if v
            }
        else:
            self.entries.pop(url, None)


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    host_delay: float = 1.0
    concurrency: int = 4
    user_agent: str = USER_AGENT
    # Refuse hosts on this machine or a private network, at every redirect hop (the bot's
    # /add: a server admin must not make it read internal services).
    public_only: bool = False


class Fetcher:
    """Fetches URLs for one sync; safe to use from several threads."""

    def __init__(self, settings: FetchSettings | None = None, cache: HttpCache | None = None) -> None:
        import httpx

        self.settings = settings or FetchSettings()
        self.cache = cache if cache is not None else HttpCache()
        t = self.settings.timeout
        self._client = httpx.Client(
            timeout=httpx.Timeout(connect=t, read=t, write=t, pool=t),
            follow_redirects=False,
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=max(1, self.settings.concurrency)),
            trust_env=False,
        )
        self._slots = threading.BoundedSemaphore(max(1, self.settings.concurrency))
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._robots: dict[str, Any] = {}
        self._robots_failure: dict[str, str] = {}  # origin -> why its robots.txt could not be read
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public

    def get(self, url: str, conditional: bool = False) -> Response:
        """GET ``url`` after robots.txt allows it; redirects followed and checked per hop.
        ``conditional``: send the cached validators (a 304 comes back as is)."""
        current = url
        for _ in range(self.settings.max_redirects + 1):
            if self.settings.public_only and (why := private_address(current)):
                raise FetchError(why)
            if not self.allowed(current):
                unreachable = self._robots_failure.get(_origin(current))
                if unreachable:  # the host itself is down or wrong: say that, not "disallowed"
                    raise FetchError(f"{unreachable} (robots.txt could not be read, so nothing is fetched)")
                raise FetchError("disallowed by robots.txt")
            headers = self.cache.validators(url) if conditional else {}
            response, location = self._request(current, headers)
            if location is None:
                if response.status == 200:
                    self.cache.remember(url, response)
                return response
            current = urljoin(current, location)
            if urlsplit(current).scheme not in ("http", "https"):
                raise FetchError(f"redirected to a non-web address ({current[:80]})")
        raise FetchError(f"too many redirects (more than {self.settings.max_redirects})")

    def allowed(self, url: str) -> bool:
        from urllib import robotparser

        origin = _origin(url)
        with self._lock:
            parser = self._robots.get(origin)
        if parser is None:
            parser = robotparser.RobotFileParser()
            try:
                response, location = self._request(origin + "/robots.txt", {}, robots=True)
                status = response.status if location is None else 404
                if 400 <= status < 500:
                    parser.allow_all = True
                elif status >= 500:
                    parser.disallow_all = True
                else:
                    parser.parse(response.body.decode("utf-8", "replace").splitlines())
            except FetchError as exc:
                parser.disallow_all = True  # unreachable: RFC 9309 says assume complete disallow
                self._robots_failure[origin] = exc.reason
            with self._lock:
                self._robots[origin] = parser
        return parser.can_fetch(self.settings.user_agent, url)

    # ------------------------------------------------------------------ one request

    def _wait_turn(self, host: str) -> threading.Lock:
        with self._lock:
            lock = self._host_locks.setdefault(host, threading.Lock())
        lock.acquire()
        wait = self._last.get(host, 0.0) + self.settings.host_delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return lock

    def _request(self, url: str, headers: dict[str, str], robots: bool = False) -> tuple[Response, str | None]:
        """One GET, no redirect followed: (response, Location if it is a redirect)."""
        import httpx

        host = urlsplit(url).netloc.lower()
        lock = self._wait_turn(host)  # one request at a time per host, spaced by host_delay
        with self._slots:
            try:
                with self._lock:
                    self.requests += 1
                deadline = time.monotonic() + 2 * self.settings.timeout
                try:
                    with self._client.stream("GET", url, headers=headers) as r:
                        if r.status_code in (301, 302, 303, 307, 308) and r.headers.get("location"):
                            return self._response(r, b""), r.headers["location"]
                        if r.status_code == 304:
                            return self._response(r, b""), None
                        if r.status_code >= 400 and not robots:
                            raise FetchError(f"HTTP {r.status_code} {r.reason_phrase or ''}".strip())
                        body = self._read_body(r, deadline)
                        return self._response(r, body), None
                except httpx.TimeoutException:
                    raise FetchError(f"timed out (no answer within {self.settings.timeout:g} s)") from None
                except httpx.TooManyRedirects:
                    raise FetchError("too many redirects") from None
                except httpx.HTTPError as exc:
                    raise FetchError(f"could not connect ({type(exc).__name__}: {str(exc)[:120]})") from None
            finally:
                self._last[host] = time.monotonic()
                lock.release()

    def _read_body(self, r: Any, deadline: float) -> bytes:
        cap = self.settings.max_bytes
        limit_mb = f"{cap / 1e6:g} MB"
        declared = r.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"larger than the {limit_mb} limit ({int(declared) / 1e6:.1f} MB)")
        chunks, size = [], 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(f"larger than the {limit_mb} limit (stopped reading)")
            if time.monotonic() > deadline:
                raise FetchError(f"too slow (not finished within {2 * self.settings.timeout:g} s)")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _response(r: Any, body: bytes) -> Response:
        content_type = r.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        charset = None
        for part in content_type.split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset":
                charset = value.strip().strip('"') or None
        return Response(
            url=str(r.url),
            status=r.status_code,
            content_type=media,
            body=body,
            charset=charset,
            etag=r.headers.get("etag"),
            last_modified=r.headers.get("last-modified"),
        )


def private_address(url: str) -> str | None:
    """Why ``url``'s host may not be fetched from chat (loopback, private, link-local or
    otherwise not public), or None for a public host. Names are resolved here."""
    import ipaddress
    import socket

    host = urlsplit(url).hostname or ""
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError):
            return None  # the request itself will say that the host is unknown
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    for address in addresses:
        if not address.is_global:
            return f"{host} is a private or local address (not fetched from chat)"
    return None
