"""Which site a URL is on, and whether a page's claims about its site are believable.

A page says where it belongs (``<link rel=canonical>``) and whose it is (``og:site_name``),
and any host can say anything. Two rules keep a citation honest (README "Where a web
article says it is from"):

- a canonical link is accepted only on the same *site* as the address the page was
  fetched from, after redirects. A site is the registrable domain (``bbc.co.uk`` for
  ``news.bbc.co.uk``, ``user.github.io`` for ``user.github.io``), from the Public Suffix
  List that the ``tld`` package ships (no download at run time); an IP address, a
  single-label name such as ``localhost``, or a name under no known suffix is a site of
  its own. Scheme and port do not matter: ``http://`` and ``https://`` of one domain are
  one site.
- a claimed site name is shown as it is only when it is plausibly the name of the site
  the page came from (see :func:`plausible_outlet`); otherwise the site is shown beside
  it: ``Reuters (evil.example)``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

_WORD = re.compile(r"[a-z0-9]+")
_SMALL_WORDS = {"the", "a", "an", "of", "and", "for"}


@lru_cache(maxsize=4096)
def _site_of_host(host: str) -> tuple[str, str]:
    """(registrable domain, its name without the public suffix) of a lower-case host."""
    from tld import get_tld

    found = get_tld(host, fix_protocol=True, as_object=True, fail_silently=True)
    if found is None or found.fld == found.tld:  # an IP, localhost, an unknown suffix, a bare suffix
        return host, host
    return found.fld, found.domain


def site(url: str) -> str:
    """The registrable domain of ``url`` ("" when it has no host)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return _site_of_host(host)[0] if host else ""


def same_site(url: str, other: str) -> bool:
    """Whether two URLs are on one registrable domain."""
    a = site(url)
    return bool(a) and a == site(other)


def shown_site(url: str) -> str:
    """The site as a reader is shown it: its registrable domain, with the port when the
    address names one (two servers on one test host are two places)."""
    parts = urlsplit(url)
    name = site(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{name}:{port}" if port else name


def plausible_outlet(name: str, url: str) -> bool:
    """Whether the site name ``name`` is believably that of the site ``url`` is on.

    Compared with the registrable domain's own label (``reuters`` of ``reuters.com``):
    the name's letters and digits, with or without a leading "The" (``theguardian``,
    ``washingtonpost``); the name beginning with the label (``BBC News`` on ``bbc.co.uk``,
    ``Le Monde.fr``); its initials (``Financial Times`` on ``ft.com``), or the initials of
    all but its last word followed by that word (``The New York Times`` on
    ``nytimes.com``); or the name being the domain or host itself. A lookalike domain
    can still pass (``reuters-news.example`` calling itself "Reuters News"), but then the
    shown link names that domain; the rule only stops a page from borrowing the name of
    a site it is not on.
    """
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not host or not name.strip():
        return False
    domain, label = _site_of_host(host)
    lowered = name.strip().lower()
    if lowered in {host, domain, shown_site(url)} or lowered.removeprefix("www.") == domain:
        return True
    label = re.sub(r"[^a-z0-9]", "", label)
    words = _WORD.findall(lowered)
    if not words or not label or label == domain.replace(".", ""):  # an IP or single-label host
        return label == "".join(words)
    core = [w for w in words if w not in _SMALL_WORDS] or words
    candidates = {"".join(words), "".join(core)}
    if len(core) >= 2:
        candidates.add("".join(w[0] for w in core))
        candidates.add("".join(w[0] for w in core[:-1]) + core[-1])
    if label in candidates:
        return True
    return len(label) >= 3 and "".join(core).startswith(label)


def outlet_for(claimed: str | None, url: str) -> str | None:
    """The outlet to show for a page fetched from ``url`` that calls its site ``claimed``."""
    if not claimed:
        return None
    if plausible_outlet(claimed, url):
        return claimed
    where = shown_site(url)
    return f"{claimed} ({where})" if where else claimed
