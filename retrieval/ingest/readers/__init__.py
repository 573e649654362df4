"""Article files -> cleaned documents: which files (``discover``), their bytes (``decode``),
their formats (``formats``), metadata (``fields``, ``frontmatter``) and one document per
article (``merge``). :class:`CollectionReader` runs them in that order."""

from retrieval.ingest.readers.decode import decode
from retrieval.ingest.readers.discover import discover
from retrieval.ingest.readers.fields import normalize_url, parse_date
from retrieval.ingest.readers.formats import FORMATS, SUPPORTED_SUFFIXES
from retrieval.ingest.readers.frontmatter import split_front_matter
from retrieval.ingest.readers.reader import CollectionReader
from retrieval.ingest.readers.report import Collection, Problem, UnreadableError

__all__ = [
    "FORMATS",
    "SUPPORTED_SUFFIXES",
    "Collection",
    "CollectionReader",
    "Problem",
    "UnreadableError",
    "decode",
    "discover",
    "normalize_url",
    "parse_date",
    "split_front_matter",
]
