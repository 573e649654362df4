"""Ingest: how articles get into a collection.

``sources`` keeps the registered sources and their sync state, ``readers/`` turns files
into documents, ``web/`` fetches pages, feeds and sitemaps, ``clean`` and ``chunking``
prepare the text, and ``indexer`` plans a sync (what changed) and runs it (embed, write).
"""
