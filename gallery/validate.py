"""What may enter the gallery, whichever way it comes (enrolment, rename, import, the HTTP API): a person's name,
their metadata, an embedding. The gallery owns the rules, so no way in can store what another cannot read,
find or erase.

A name is normalised (Unicode NFC, spaces at its ends stripped) and holds 1-200 characters, something besides
spaces, and nothing invisible or controlling (``REFUSED``, in the Basic Multilingual Plane): no control
characters (C0, DEL, C1), no invisible formatting characters (zero-width spaces and joiners, direction marks
and overrides, the byte-order mark: names that look the same would be two people), no private-use or surrogate
code points, no line or paragraph separators. ``NAME_PATTERN`` says the same as a regular expression (the HTTP
API's schema). Names that differ only in case are one person (``GalleryStore.identity``). Metadata is a JSON
object of at most 50 keys and 10,000 characters, its numbers finite.
"""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np

MAX_NAME = 200
MAX_METADATA_KEYS = 50
MAX_METADATA_CHARS = 10_000
# The code points of Unicode 14's categories Cc, Cf, Co, Cs, Zl and Zp in the Basic Multilingual Plane, and the
# marks and letters that show nothing (the combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
# Mongolian and other variation selectors), as ranges: the rule and the pattern alike. (Beyond the plane a JSON
# Schema's regular expression cannot name code points: the tag characters and the private-use planes pass.)
REFUSED = ((0x0, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x34F, 0x34F), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
           (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
           (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0x3164, 0x3164),
           (0xD800, 0xF8FF), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB))


def _class(ranges) -> str:
    return "".join(f"\\u{a:04X}" if a == b else f"\\u{a:04X}-\\u{b:04X}" for a, b in ranges)


_NO_SURROGATES = _class((a, b) if b < 0xD800 or a > 0xDFFF else (0xE000, b) for a, b in REFUSED)
# (surrogates are not characters to a schema's regular expression; the rule refuses them)
NAME_PATTERN = rf"^[^{_NO_SURROGATES}]*[^\s{_NO_SURROGATES}][^{_NO_SURROGATES}]*$"  # something besides spaces
_REFUSED_CHAR = re.compile(f"[{_class(REFUSED)}]")


def normalised(name: str) -> str:
    """A name as the gallery keeps it, for storing or finding: NFC, without spaces at its ends."""
    return unicodedata.normalize("NFC", name).strip()


def person_name(text: str) -> str:
    """``text`` as a person's name (normalised), or ``ValueError`` saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"must be text, not {type(text).__name__}")
    name = normalised(text)
    if not name:
        raise ValueError("must hold something besides spaces")
    if len(name) > MAX_NAME:
        raise ValueError(f"at most {MAX_NAME} characters ({len(name)} given)")
    if found := _REFUSED_CHAR.search(name):
        kind = {"Cc": "a control character", "Co": "a private-use character", "Cs": "a lone surrogate",
                "Zl": "a line break", "Zp": "a line break"}.get(unicodedata.category(found.group()),
                                                                "an invisible character")
        raise ValueError(f"holds {kind} (U+{ord(found.group()):04X}) at position {found.start() + 1}")
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
