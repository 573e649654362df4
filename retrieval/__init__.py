"""sourced: answers from a collection of news articles, always with their sources.

The library knows nothing of Discord or the terminal; adapters (``retrieval.cli``,
``bot``) call :class:`retrieval.query.service.QueryService`. Heavy libraries (torch,
sentence-transformers, faiss) are imported only when first needed.
"""

__version__ = "0.1.0"
