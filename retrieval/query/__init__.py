"""Query: how a question becomes ranked, highlighted, cited passages.

``service`` (:class:`QueryService`) is the one entry point every adapter calls;
``ranking`` fuses BM25 and dense candidates, ``highlight`` picks the bold sentence, and
``followup`` reads a follow-up question against the previous one.
"""
