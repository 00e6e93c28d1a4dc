"""Text helpers shared by the stages: normalization for comparison, content hashes."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def nfkc(text: str) -> str:
    """Return the NFKC form of text (full-width letters and punctuation folded)."""
    return unicodedata.normalize("NFKC", text)


def squash_space(text: str) -> str:
    """Collapse every run of white space into one space and strip the ends."""
    return _SPACE.sub(" ", text).strip()


def match_key(text: str) -> str:
    """Return the comparison form: NFKC, lower case, letters and digits only.

    This is the normalization of the FAQ format (eval/faq), so punctuation, spaces and
    full/half-width differences never decide whether two texts are the same.
    """
    return _NOT_LETTER_OR_DIGIT.sub("", nfkc(text).lower())


def content_id(*parts: str) -> str:
    """Return a stable 16-hex-digit id from the normalized parts."""
    digest = hashlib.sha1("\x1f".join(squash_space(nfkc(p)) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:16]


def bytes_sha(data: bytes) -> str:
    """Return the sha1 of raw bytes (to tell an unchanged file)."""
    return hashlib.sha1(data).hexdigest()
