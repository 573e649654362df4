"""Article files -> cleaned documents: which files (``discover``), their bytes (``decode``),
their formats (``formats``), metadata (``fields``, ``frontmatter``) and one document per
article (``merge``). :class:`CollectionReader` runs them in that order."""

from retrieval.readers.decode import decode
from retrieval.readers.discover import discover
from retrieval.readers.fields import normalize_url, parse_date
from retrieval.readers.formats import FORMATS, SUPPORTED_SUFFIXES
from retrieval.readers.frontmatter import split_front_matter
from retrieval.readers.reader import CollectionReader
from retrieval.readers.report import Collection, Problem, UnreadableError

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
