"""What may enter the gallery, whichever way it comes (enrolment, rename, import, the HTTP API): a person's name,
their metadata, an embedding. The gallery owns the rules, so no way in can store what another cannot read,
find or erase.

A name is normalised (Unicode NFC, spaces at its ends stripped) and holds 1-200 characters, something besides
spaces, and nothing invisible or controlling: no control characters (C0, DEL, C1), no format characters
(zero-width spaces and joiners, direction marks, the byte-order mark: names that look the same would be two
people), no private-use, unassigned or surrogate code points, no line or paragraph separators. Names that differ
only in case are one person (``GalleryStore.identity``). Metadata is a JSON object of at most 50 keys and 10,000
characters, its numbers finite.
"""

from __future__ import annotations

import json
import unicodedata

import numpy as np

MAX_NAME = 200
MAX_METADATA_KEYS = 50
MAX_METADATA_CHARS = 10_000
REFUSED = {"Cc": "a control character", "Cf": "an invisible formatting character", "Co": "a private-use character",
           "Cn": "an unassigned character", "Cs": "a lone surrogate", "Zl": "a line separator",
           "Zp": "a paragraph separator"}


def person_name(text: str) -> str:
    """``text`` as a person's name (normalised), or ``ValueError`` saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"must be text, not {type(text).__name__}")
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise ValueError("must hold something besides spaces")
    if len(name) > MAX_NAME:
        raise ValueError(f"at most {MAX_NAME} characters ({len(name)} given)")
    for position, char in enumerate(name):
        if (category := unicodedata.category(char)) in REFUSED:
            raise ValueError(f"holds {REFUSED[category]} (U+{ord(char):04X}) at position {position + 1}")
    return name


def person_metadata(value: object) -> dict:
    """``value`` (a dict, or its JSON text) as a person's metadata, or ``ValueError`` saying what is wrong."""
    if isinstance(value, (str, bytes)):
        def refuse(constant: str):
            raise ValueError(f"{constant} is not a JSON number")

        try:
            value = json.loads(value, parse_constant=refuse)
        except ValueError as error:
            raise ValueError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("numbers must be finite") from None
    except TypeError as error:
        raise ValueError(f"not JSON ({error})") from None
    if len(value) > MAX_METADATA_KEYS or len(text) > MAX_METADATA_CHARS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_CHARS:,} characters of JSON")
    return value


def finite_vector(blob: bytes, length: int | None = None) -> bool:
    """Whether ``blob`` is an embedding: float32 numbers (``length`` of them, when given), all finite."""
    blob = bytes(blob) if isinstance(blob, memoryview) else blob
    if not isinstance(blob, bytes) or not blob or len(blob) % 4 or (length is not None and len(blob) != 4 * length):
        return False
    return bool(np.isfinite(np.frombuffer(blob, np.float32)).all())
