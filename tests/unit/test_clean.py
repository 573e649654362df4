"""Cleaning rules, checked on each bundled file and on small cases."""

from retrieval.config import CleanSettings
from retrieval.ingest.clean import Cleaner, markdown_to_text
from tests.helpers import BUNDLED

cleaner = Cleaner()


def read(name: str) -> str:
    return (BUNDLED / name).read_text(encoding="utf-8")


def test_truthout_article_loses_navigation_and_donation_appeal():
    text = cleaner.clean(read("003_dda86c09921c1694.txt"))
    assert text.startswith("Tech Companies Urged Not to Sell Facial Recognition to Governments\n\n")
    assert "Skip to content" not in text
    # The closing fundraising appeal is not the article.
    for appeal in ("Help us Prepare", "tax-deductible", "monthly donation", "With gratitude", "Ziggy"):
        assert appeal not in text
    # ...but the article's own last paragraph is kept.
    assert text.endswith("the Project on Government Oversight (POGO), among others.")
    # A lost space between sentences is restored.
    assert "business.” The coalition welcomed" in text


def test_cnet_article_loses_byline_bio_credits_and_teasers():
    text = cleaner.clean(read("004_a582f3a2c9e06838.txt"))
    assert text.startswith("Rights groups to tech giants: Don't sell facial recognition to government\n\n")
    for junk in (
        "Gordon Gottsegen",
        "CNET contributor",
        "2 min read",
        "Getty Images",
        "Watch this",
        "Everything you need",
    ):
        assert junk not in text
    assert "inaccurate in 98 percent of cases" in text
    assert text.endswith("didn't immediately respond to a request for comment on the coalition's letter.")


def test_mojibake_is_repaired_and_quotes_kept():
    assert cleaner.fix("One way to imagine todayâ€™s complex web") == "One way to imagine today’s complex web"
    assert cleaner.fix("wouldnâ€™t adversely") == "wouldn’t adversely"
    assert cleaner.fix("“quoted”") == "“quoted”"


def test_whitespace_is_normalised():
    text = cleaner.clean("Title\r\n\r\n\r\n  First   para\u00a0here.\u200b  \n\n\n\nSecond.\t")
    assert text == "Title\n\nFirst para here.\n\nSecond."


def test_hard_wrapped_lines_are_joined_but_headings_kept_apart():
    text = cleaner.clean("A heading\nThe first line of a sentence that\ncontinues here. Done.")
    assert text == "A heading\nThe first line of a sentence that continues here. Done."


def test_appeal_rule_never_cuts_the_start_of_an_article():
    text = cleaner.clean("Help us find the missing dog, police said.\n\n" + "The dog ran away. " * 20)
    assert text.startswith("Help us find the missing dog")


def test_rules_come_from_config():
    custom = Cleaner(CleanSettings(drop_lines=(r"^ADVERTISEMENT$",), cut_from=()))
    assert custom.clean("One.\nADVERTISEMENT\nTwo.") == "One.\nTwo."
    assert "Skip to content" in custom.clean("Skip to content\nText.")


def test_markdown_markup_is_removed():
    md = "# Heading\n\nSome **bold** and a [link](https://x.org).\n\n- item one\n- item two\n"
    assert markdown_to_text(md) == "Heading\n\nSome bold and a link.\n\nitem one\n\nitem two"


def test_a_story_about_a_journalist_is_not_a_byline():
    # The bio rule matches this line, but it is the whole article: the story's own prose.
    text = "Harri is a former journalist turned PR professional who worked as a key aide to Johnson"
    assert cleaner.clean(text) == text


def test_bio_lines_are_dropped_only_at_the_edges():
    story = [f"Paragraph {i} of the story goes on about the case." for i in range(20)]
    quote = "Jane Doe is a reporter who covered the trial for a decade."
    body = "\n\n".join(["Headline", "Jane Doe CNET contributor", *story[:10], quote, *story[10:]])
    text = cleaner.clean(body)
    assert "CNET contributor" not in text
    assert quote in text


def test_a_bio_tail_glued_to_the_lead_is_trimmed():
    lead = "Digital activists can celebrate a memorable victory after the IRS ditched a system."
    assert cleaner.trim_bio(f"Likes Werner Herzog films and Arsenal FC. {lead} It is over.") == f"{lead} It is over."
    assert cleaner.clean(f"Headline\n\n{lead} The agency backed down.\n\nFollow her on Twitter @jdoe.") == (
        f"Headline\n\n{lead} The agency backed down."
    )
    # A single sentence is the text, whatever it looks like.
    assert cleaner.trim_bio("Likes and shares are not journalism.") == "Likes and shares are not journalism."


def test_a_photo_caption_goes_with_its_credit():
    body = "Headline\n\nThe lead.\n\nA showcase of facial recognition tech at CES 2019.\n\nDavid Mcnew/Getty Images\n\nMore story."
    assert cleaner.clean(body) == "Headline\n\nThe lead.\n\nMore story."


def test_the_front_matter_excerpt_loses_a_bio_tail():
    from retrieval.ingest.readers import CollectionReader

    docs = CollectionReader().read([BUNDLED / "000_0079eda1b2bb9ffb.txt"]).documents
    (doc,) = [d for d in docs if d.title.startswith("The campaign against IRS use")]
    assert "Werner Herzog" not in doc.text
    assert "Digital activists can celebrate" in doc.text
