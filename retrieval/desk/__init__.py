"""A community's desk: named collections, follows (alerts) and feedback, kept in SQLite.

None of this is needed to answer a question; it is the state the bot (and the CLI's
``--collection`` and ``feedback``) keep beside the index.
"""
