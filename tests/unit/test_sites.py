"""The site rules behind honest web citations (retrieval/ingest/web/sites.py, issue 25 #4)."""

from __future__ import annotations

import pytest

from retrieval.ingest.web.sites import outlet_for, plausible_outlet, same_site, site


def test_a_site_is_the_registrable_domain():
    assert site("https://news.bbc.co.uk/world") == "bbc.co.uk"
    assert site("https://WWW.Reuters.com:8443/x") == "reuters.com"
    assert site("https://alice.github.io/blog") == "alice.github.io"  # a private suffix: one user's site
    assert same_site("http://www.reuters.com/a", "https://reuters.com/b")
    assert not same_site("https://alice.github.io/", "https://bob.github.io/")
    assert not same_site("http://127.0.0.1:8000/a", "http://localhost:8000/a")
    assert not same_site("https://reuters.com.evil.example/a", "https://www.reuters.com/a")


@pytest.mark.parametrize(
    "name, url",
    [
        ("Reuters", "https://www.reuters.com/world/x"),
        ("The Guardian", "https://www.theguardian.com/uk"),
        ("BBC News", "https://www.bbc.co.uk/news/x"),
        ("The Washington Post", "https://www.washingtonpost.com/x"),
        ("Financial Times", "https://www.ft.com/content/x"),
        ("The Wall Street Journal", "https://www.wsj.com/x"),
        ("The New York Times", "https://www.nytimes.com/2024/x.html"),
        ("Le Monde.fr", "https://www.lemonde.fr/x"),
        ("127.0.0.1:8000", "http://127.0.0.1:8000/x"),  # trafilatura's name for a nameless page
    ],
)
def test_a_sites_own_name_is_shown_as_it_is(name, url):
    assert plausible_outlet(name, url) and outlet_for(name, url) == name


@pytest.mark.parametrize(
    "name, url, shown",
    [
        ("Reuters", "http://127.0.0.1:8000/story", "Reuters (127.0.0.1:8000)"),
        ("Reuters", "https://evil.example/story", "Reuters (evil.example)"),
        ("BBC News", "https://news.example.co.uk/x", "BBC News (example.co.uk)"),
        ("Reuters", "http://localhost/x", "Reuters (localhost)"),
    ],
)
def test_another_sites_name_is_shown_beside_the_real_site(name, url, shown):
    assert not plausible_outlet(name, url) and outlet_for(name, url) == shown
