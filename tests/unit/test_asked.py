"""What kind of thing a question asks for, and whether a sentence holds one (the bold
sentence's choice, retrieval/query/asked.py)."""

from __future__ import annotations

import pytest

from retrieval.query.asked import NAME, NUMBER, TIME, asked_kind, holds


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How many civil and human rights groups signed the letters?", NUMBER),
        ("how much did IBM pay to settle?", NUMBER),
        ("What percentage of voters turned out?", NUMBER),
        ("When did Brad Smith write his blog post?", TIME),
        ("In what year was the ban passed?", TIME),
        ("who urged Amazon to stop selling Rekognition?", NAME),
        ("Which companies received the coalition's letters?", NAME),
        ("This artist is the first to score a No. 1 hit in four decades.", NAME),
        ("Where was the summit held?", NAME),
        ("What did Nicole Ozer warn about?", None),
        ("facial recognition ban Boston", None),
        ("", None),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert asked_kind(question) == kind


def test_a_sentence_holds_what_is_asked_only_when_the_question_does_not_say_it():
    q = "Which companies received the coalition's letters?"
    assert holds("Letters went Tuesday to executives at Amazon, Google, and Microsoft.", NAME, q)
    assert not holds("All of these companies should heed that clear message.", NAME, q)
    # The first word of a sentence is capitalised anyway; a name the question says is no answer.
    assert not holds("Coalition members met again.", NAME, "Who met the Coalition?")
    assert holds("The groups sent 3 letters.", NUMBER, "How many letters were sent?")
    assert not holds("The 90 groups sent letters.", NUMBER, "How many of the 90 groups sent letters?")
    assert holds("It was posted on Friday.", TIME, "When was it posted?")
    assert holds("The ban passed in 2019, after a long fight.", TIME, "When did the ban pass?")
    assert not holds("It was posted in 2019.", TIME, "When in 2019 was it posted?")
    assert not holds("Anything at all.", None, "What is it?")


def test_a_name_with_accents_is_a_name_and_one_the_question_says_without_them_is_said():
    from retrieval.query.asked import NAME, holds

    assert holds("Věra Jourová answered.", NAME, "Who answered the letter?")
    assert holds("The letter went to Łukasz Nowak.", NAME, "Who got the letter?")
    assert not holds("The letter was sent by Özer.", NAME, "What did Ozer send?")  # the question says it
