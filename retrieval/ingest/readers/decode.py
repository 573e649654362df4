"""Bytes -> text: the encodings articles come in, and the binary files that are not articles."""

from __future__ import annotations

from retrieval.ingest.readers.report import UnreadableError

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or Office document)",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "an executable",
}


def sniff(head: bytes) -> str | None:
    """What the first bytes of a file say: :class:`UnreadableError` for a binary file, the
    codec its byte-order mark names, else None (UTF-8 or a legacy encoding)."""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            raise UnreadableError(f"binary file ({kind}), not text")
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if head.startswith(bom):
            return codec
    # NUL is valid UTF-8 but never appears in text files; UTF-16 without a BOM is full of it.
    if b"\x00" in head[:65536] and not _looks_utf16(head):
        raise UnreadableError("binary file (contains NUL bytes), not text")
    return None


def decode(data: bytes) -> str:
    """Bytes -> text: UTF-8 (with or without BOM), UTF-16/32 by BOM, else a detected encoding."""
    if not data.strip():
        raise UnreadableError("empty file")
    codec = sniff(data)
    if codec:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            raise UnreadableError(f"starts with a {codec} byte-order mark but is not {codec}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data[:1_000_000])
    best = matches.best()
    if best is None:
        raise UnreadableError("not text in any encoding that could be detected")
    encoding = best.encoding
    # Short texts fit many single-byte code pages equally well; Windows-1252 is by far the
    # most common legacy encoding of Western text (the WHATWG default), so it wins ties.
    if any(m.encoding == "cp1252" and m.chaos <= best.chaos + 0.02 for m in matches):
        encoding = "cp1252"
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise UnreadableError(f"not valid {encoding} text") from None


def _looks_utf16(data: bytes) -> bool:
    sample = data[:4096]
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) / 2
    return max(even_nuls, odd_nuls) > 0.3 * half and min(even_nuls, odd_nuls) < 0.05 * half
