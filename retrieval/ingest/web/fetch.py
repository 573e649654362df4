"""HTTP like a good citizen: one :class:`Fetcher` per sync.

- One deadline per request (``timeout``) over everything it does: resolving, connecting,
  the headers and the body. It is enforced at every socket read and write, so a server
  that trickles its headers or its body a byte at a time cannot hold a sync.
- A size cap enforced while the body streams in, and up front from Content-Length. The
  body is decoded here (gzip, deflate, at most two stacked), a bounded piece at a time,
  so decompressed bytes count against the cap as they are produced: a gzip bomb stops
  at the cap instead of filling memory.
- Redirects followed one hop at a time, each hop checked against robots.txt, with a
  limit (a loop ends as "too many redirects").
- robots.txt per host (``urllib.robotparser``), fetched once per sync. As RFC 9309 says:
  a 4xx robots.txt allows everything; an unreachable or 5xx one allows nothing; up to
  five redirects are followed to it (more: treated as unavailable, so allow everything).
- ``public_only``: the address is checked when the connection is made, and the
  connection goes to the address that was checked (no second DNS answer to rebind).
- Conditional GET: the ETag and Last-Modified of each URL are kept (``HttpCache``), so an
  unchanged page or feed answers 304 and is not downloaded again.
- A User-Agent naming sourced and its version; a per-host delay between requests and a
  bounded number of requests in flight.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from retrieval import __version__

USER_AGENT = f"sourced/{__version__} (+https://github.com/sourced-news/sourced; news research bot)"
CACHE_FILE = "http-cache.json"
ROBOTS_REDIRECTS = 5  # RFC 9309 2.3.1.2: follow at least five consecutive redirects
MAX_ENCODINGS = 2  # "gzip, gzip" is seen in the wild; more is only ever an attack
DECODE_PIECE = 64 * 1024  # most bytes one decompress call may produce
# Content codings: the ones decoded here (Accept-Encoding: gzip, deflate), then the
# compressions a server may send anyway and that cannot be read.
_CODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class FetchError(Exception):
    """A URL could not be fetched; ``reason`` is one line for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AddressRefused(FetchError):
    """The host is on this machine or a private network and ``public_only`` is set."""


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
        import httpcore
        import httpx

        self.settings = settings or FetchSettings()
        self.cache = cache if cache is not None else HttpCache()
        t = self.settings.timeout
        limits = httpx.Limits(max_connections=max(1, self.settings.concurrency))
        transport = httpx.HTTPTransport(limits=limits, trust_env=False)
        # httpx takes no network backend, so its pool is rebuilt with the same settings and
        # ours: every connection is then resolved, checked and deadline-bound by _Backend.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(self.settings.public_only),
        )
        self._client = httpx.Client(
            timeout=httpx.Timeout(connect=t, read=t, write=t, pool=t),
            follow_redirects=False,
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=transport,
            trust_env=False,
        )
        self._slots = threading.BoundedSemaphore(max(1, self.settings.concurrency))
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._robots: dict[str, Any] = {}
        self._robots_failure: dict[str, str] = {}  # origin -> why its robots.txt could not be read
        self.requests = 0
        # What this sync made of each article page, by URL, so a page that a feed and a
        # sitemap both list is fetched once per sync (filled by web.source).
        self.pages: dict[str, Any] = {}

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
            # public_only is enforced when each connection is made (_Backend), robots.txt's
            # included: checking here too would resolve the name a second time for nothing.
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
                response, location = self._robots_txt(origin + "/robots.txt")
                status = response.status if location is None else 404  # too many redirects: unavailable
                if 400 <= status < 500:
                    parser.allow_all = True
                elif status >= 500:
                    parser.disallow_all = True
                else:
                    parser.parse(response.body.decode("utf-8", "replace").splitlines())
            except AddressRefused:
                raise  # not "unreachable": the host may not be asked at all, and that is the reason
            except FetchError as exc:
                parser.disallow_all = True  # unreachable: RFC 9309 says assume complete disallow
                self._robots_failure[origin] = exc.reason
            with self._lock:
                self._robots[origin] = parser
        return parser.can_fetch(self.settings.user_agent, url)

    def _robots_txt(self, url: str) -> tuple[Response, str | None]:
        """robots.txt, following redirects as RFC 9309 asks (at least five, to any host);
        each hop is checked like a page's: web schemes only, and public_only at connect.
        A Location is still returned when the hops ran out (the caller: unavailable)."""
        response, location = self._request(url, {}, robots=True)
        for _ in range(max(ROBOTS_REDIRECTS, self.settings.max_redirects)):
            if location is None:
                break
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(f"robots.txt redirected to a non-web address ({url[:80]})")
            response, location = self._request(url, {}, robots=True)
        return response, location

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
        """One GET, no redirect followed: (response, Location if it is a redirect). All of
        it, from resolving the name to the last body byte, ends within settings.timeout."""
        import httpx

        host = urlsplit(url).netloc.lower()
        lock = self._wait_turn(host)  # one request at a time per host, spaced by host_delay
        with self._slots:
            try:
                with self._lock:
                    self.requests += 1
                timeout = self.settings.timeout
                deadline = _Deadline(time.monotonic() + timeout)
                _current.deadline = deadline  # read by _Backend and _Stream on this thread
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
                    if deadline.cut:
                        raise FetchError(f"timed out (not finished within {timeout:g} s)") from None
                    raise FetchError(f"timed out (no answer within {timeout:g} s)") from None
                except httpx.TooManyRedirects:
                    raise FetchError("too many redirects") from None
                except httpx.InvalidURL as exc:  # not an HTTPError: "999.999.999.999", a bad port
                    raise FetchError(f"not a valid web address ({str(exc)[:120]})") from None
                except httpx.HTTPError as exc:
                    raise FetchError(f"could not connect ({type(exc).__name__}: {str(exc)[:120]})") from None
                finally:
                    _current.deadline = None
            finally:
                self._last[host] = time.monotonic()
                lock.release()

    def _read_body(self, r: Any, deadline: _Deadline) -> bytes:
        """The body, decoded here rather than by httpx: httpx inflates a whole network chunk
        at once, and one 3 KB chunk of "gzip, gzip" is gigabytes. Here every layer yields at
        most DECODE_PIECE bytes per call and every byte it yields counts against the cap."""
        cap = self.settings.max_bytes
        limit_mb = f"{cap / 1e6:g} MB"
        declared = r.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"larger than the {limit_mb} limit ({int(declared) / 1e6:.1f} MB)")
        # Other values ("identity", or the bogus "utf-8" some servers send) are not
        # compression: ignored, as httpx does, so those pages still read.
        codings = [
            c.strip().lower()
            for c in r.headers.get_list("content-encoding", split_commas=True)
            if c.strip().lower() in _CODINGS
        ]
        if len(codings) > MAX_ENCODINGS:
            raise FetchError(f"compressed {len(codings)} times over (Content-Encoding: {', '.join(codings)[:60]})")
        pieces: Iterable[bytes] = _capped(r.iter_raw(), cap, f"larger than the {limit_mb} limit (stopped reading)")
        for coding in reversed(codings):  # the last coding listed was applied last
            why = f"larger than the {limit_mb} limit once decompressed (stopped reading)"
            pieces = _capped(_inflate(pieces, coding), cap, why)
        chunks = []
        for piece in pieces:
            if deadline.passed():  # decoding is CPU, not socket time: check it here too
                raise FetchError(f"timed out (not finished within {self.settings.timeout:g} s)")
            chunks.append(piece)
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


# ---------------------------------------------------------------------- decoding


def _capped(pieces: Iterable[bytes], cap: int, why: str) -> Iterator[bytes]:
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > cap:
            raise FetchError(why)
        yield piece


def _inflate(pieces: Iterable[bytes], coding: str) -> Iterator[bytes]:
    """Decode one content coding, never more than DECODE_PIECE bytes per zlib call (its
    ``max_length``), so memory stays bounded whatever the compression ratio."""
    if coding in ("gzip", "x-gzip"):
        z = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif coding == "deflate":
        z = zlib.decompressobj()
    else:  # br, zstd, compress: not asked for (Accept-Encoding)
        raise FetchError(f"compressed in a way sourced does not read (Content-Encoding: {coding[:40]})")
    first = coding == "deflate"
    for data in pieces:
        while not z.eof:
            try:
                out = z.decompress(data, DECODE_PIECE)
            except zlib.error:
                if first:  # "deflate" sent raw, without its zlib header, as some servers do
                    z, first = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise FetchError(f"damaged {coding} compression") from None
            first = False
            data = z.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < DECODE_PIECE:  # input used up and no output pending
                break
        # Bytes after the end of the compressed stream are ignored, as httpx does.


# ---------------------------------------------------------------------- connections


@dataclass
class _Deadline:
    at: float
    cut: bool = False  # a wait was shortened to end at the deadline

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def clamp(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            self.cut = True
            raise error("deadline passed")
        if timeout is None or left < timeout:
            self.cut = True
            return left
        return timeout


# The deadline of the request running on this thread. httpcore hands each connection to
# one request at a time, on the caller's thread, so the stream reads it from here.
_current = threading.local()


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = getattr(_current, "deadline", None)
    return timeout if deadline is None else deadline.clamp(timeout, error)


class _Backend:
    """An httpcore network backend: resolves the name once (within the deadline), refuses
    non-public addresses when ``public_only``, and connects to exactly the address it
    checked, so a second DNS answer cannot point the connection elsewhere (rebinding).
    TLS and the Host header still use the name (httpcore passes it to start_tls)."""

    def __init__(self, public_only: bool) -> None:
        import httpcore

        self.public_only = public_only
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _Stream:
        import httpcore

        addresses = _resolve(host, port, _clamp(timeout, httpcore.ConnectTimeout))
        if self.public_only and (why := _refusal(host, addresses)):
            raise AddressRefused(why)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in dict.fromkeys(addresses):  # in resolver order, each once
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=_clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return _Stream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise NotImplementedError("unix sockets are not used")  # pragma: no cover

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _Stream:
    """A network stream whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import httpcore

        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _Stream:
        import httpcore

        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname=server_hostname, timeout=timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _resolve(host: str, port: int, timeout: float | None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of ``host``. getaddrinfo has no timeout of its own, so it runs on a
    helper thread and a resolver that never answers costs the deadline, not the sync."""
    import httpcore

    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    answer: dict[str, Any] = {}

    def lookup() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            answer["error"] = exc

    worker = threading.Thread(target=lookup, name="sourced-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise httpcore.ConnectTimeout(f"no DNS answer for {host}")
    if "error" in answer:
        raise httpcore.ConnectError(str(answer["error"]))
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in answer["infos"]]


def _embedded_v4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries, in the forms that reach it: IPv4-mapped
    (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96, 64:ff9b:1::/48),
    6to4 (2002::/16) and Teredo (its client)."""
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    value = int(address)
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d (:: and ::1 are not IPv4)
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    embedded = _embedded_v4(address)
    return not address.is_global or (embedded is not None and not embedded.is_global)


def _refusal(host: str, addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> str | None:
    """Why ``host`` may not be fetched from chat, when any of its addresses is loopback,
    private, link-local or otherwise not public (also behind an IPv6 form), else None."""
    if any(_not_public(address) for address in addresses):
        return f"{host} is a private or local address (not fetched from chat)"
    return None
