"""Pure rendering of answers for Discord: limits, escaping, trimming, link handling."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import (
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    MESSAGE_LIMIT,
    TITLE_LIMIT,
    TOTAL_EMBED_LIMIT,
    escape,
    passage_markdown,
    render_answer,
    render_full_articles,
)
from retrieval.types import Answer, Chunk, Document, Hit

HOSTILE = "@everyone look <@123> and <@&456> in <#789> **loud** ||spoiler|| `code` ```fence``` __u__ ~~s~~ > quote"


def make_hit(text, rank=1, url="https://ex.org/a", title="A title", hl=None, outlet="Outlet", sim=0.7, more=0):
    doc = Document(id=f"d{rank}", title=title, text=text, url=url, outlet=outlet, source=f"f{rank}.txt")
    start, end = hl if hl else (None, None)
    return Hit(Chunk(doc.id, 0, text, 0, len(text)), doc, sim, rank, sim, start, end, more)


def unescaped_mentions(text):
    # A mention or @everyone that Discord would still parse: not preceded by a backslash
    # and, for @everyone/@here, not broken by a zero-width space.
    return re.findall(r"(?<!\\)<(?:@[!&]?\d+|#\d+)>|@(?:everyone|here)(?!\u200b)", text.replace("@\u200b", ""))


def test_escape_neutralises_mentions_and_markdown():
    out = escape(HOSTILE)
    assert "@everyone" not in out.replace("@\u200beveryone", "")
    assert "\\<@123>" in out and "\\<@&456>" in out and "\\<#789>" in out
    assert "\\*\\*loud\\*\\*" in out and "\\|\\|spoiler\\|\\|" in out
    assert not unescaped_mentions(out)


def test_answer_sentence_is_bold_and_article_text_escaped():
    text = "First sentence is here. The **answer** is 98 percent. Last one."
    hit = make_hit(text, hl=(24, 52))
    md = passage_markdown(hit)
    assert md == "First sentence is here. **The \\*\\*answer\\*\\* is 98 percent.** Last one."


def test_long_passage_is_trimmed_at_sentences_around_the_answer():
    sentences = [f"Sentence number {i} has several words in it." for i in range(60)]
    text = " ".join(sentences)
    start = text.index("Sentence number 30 ")
    hit = make_hit(text, hl=(start, start + len(sentences[30])))
    md = passage_markdown(hit, budget=300)
    assert len(md) <= 300
    assert md.startswith("… ") and md.endswith(" …")
    assert "**Sentence number 30 has several words in it.**" in md
    # Whole sentences only between the ellipses.
    inner = md[2:-2].replace("**", "")
    assert all(s in sentences for s in re.split(r"(?<=\.) ", inner))


def test_one_huge_sentence_is_cut_at_a_word():
    text = "word " * 3000
    md = passage_markdown(make_hit(text.strip(), hl=(0, len(text.strip()))), budget=500)
    assert len(md) <= 500 and md.endswith("…**") and "wor…" not in md


def test_no_link_shows_source_name_and_no_url():
    answer = Answer("q", (make_hit("Some text here.", url=None),), True)
    (embed,) = render_answer(answer).embeds
    assert embed.url is None and "source: f1.txt" in embed.footer.text


def test_link_opens_at_the_answer_sentence():
    answer = Answer("q", (make_hit("One. Two words here.", hl=(5, 20)),), True)
    (embed,) = render_answer(answer).embeds
    assert embed.url == "https://ex.org/a#:~:text=Two%20words%20here."


def test_hits_sharing_a_url_become_one_embed():
    hits = (
        make_hit("First passage.", rank=1),
        make_hit("Second passage.", rank=2),
        make_hit("Other.", 3, url="https://b.org"),
    )
    reply = render_answer(Answer("q", hits, True))
    assert len(reply.embeds) == 2
    assert reply.embeds[0].fields[0].name == "#2 another passage"


def test_not_answered_is_honest():
    reply = render_answer(Answer("q", (make_hit("x y z.", sim=0.1),), False))
    assert "I couldn't find this in the collection" in reply.content
    assert "low confidence" in reply.embeds[0].footer.text
    assert render_answer(Answer("q", (), False)).embeds == []


def test_more_passages_note():
    (embed,) = render_answer(Answer("q", (make_hit("t.", more=3),), True)).embeds
    assert "3 more passages from this article" in embed.footer.text


text_strategy = st.text(min_size=1, max_size=5000) | st.builds(
    lambda parts: " ".join(parts),
    st.lists(st.sampled_from([HOSTILE, "Plain sentence.", "x" * 900, "@here", "<@1>"]), max_size=30),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(text_strategy, st.text(min_size=1, max_size=400) | st.just(HOSTILE)), min_size=1, max_size=12),
    st.text(min_size=1, max_size=1000),
    st.booleans(),
)
def test_rendering_never_exceeds_limits_or_leaks_mentions(items, question, answered):
    hits = []
    for i, (text, title) in enumerate(items):
        if not text.strip():
            text = "fallback text."
        hl = (0, min(len(text), 50))
        hits.append(make_hit(text, rank=i + 1, url=f"https://ex.org/{i % 3}", title=title, hl=hl))
    answer = Answer(question, tuple(hits), answered)
    for reply in (render_answer(answer), *render_full_articles(answer)):
        assert len(reply.content) <= MESSAGE_LIMIT
        assert len(reply.embeds) <= EMBEDS_LIMIT
        assert reply.total_embed_chars() <= TOTAL_EMBED_LIMIT
        for embed in reply.embeds:
            assert len(embed.title or "") <= TITLE_LIMIT
            assert len(embed.description or "") <= DESCRIPTION_LIMIT
            assert all(len(f.value) <= 1024 for f in embed.fields)
            for part in (embed.description or "", embed.title or "", *(f.value for f in embed.fields)):
                assert not unescaped_mentions(part)
        assert not unescaped_mentions(reply.content)


def test_other_copies_of_a_story_are_named_as_also_reported_by(capsys):
    from dataclasses import replace
    from datetime import UTC, datetime

    from retrieval.cli.render import answer_json, print_answer

    copy = Document(
        id="d9",
        title="Bridge to reopen",
        text="t",
        url="https://herald.example/b",
        outlet="Evening Herald",
        published=datetime(2024, 5, 6, tzinfo=UTC),
        source="s",
    )
    unnamed = Document(id="d8", title="A copy with no outlet", text="t", source="x.txt")
    hit = replace(make_hit("The bridge reopens next week."), duplicates=(copy, unnamed))
    answer = Answer("q", (hit,), True)
    (embed,) = render_answer(answer).embeds
    field = next(f for f in embed.fields if f.name == "Also reported by")
    assert field.value == "Evening Herald (2024-05-06), “A copy with no outlet”"
    print_answer(answer)
    assert "also reported by Evening Herald (2024-05-06)" in " ".join(capsys.readouterr().out.split())
    (dup, _) = answer_json(answer)["hits"][0]["duplicates"]
    assert dup == {
        "title": "Bridge to reopen",
        "url": "https://herald.example/b",
        "outlet": "Evening Herald",
        "published": "2024-05-06T00:00:00+00:00",
        "source": "s",
    }
