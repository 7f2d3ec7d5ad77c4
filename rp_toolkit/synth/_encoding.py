"""What the generators produce: values as JSON the way Rails writes it, in record batches.

Values are JSON as the gem writes it from a Rails app: ``Hash#to_json`` with ActiveSupport
loaded, i.e. compact, ``null`` for nil, non-ASCII text as is, and ``<``, ``>``, ``&`` escaped as
``\\u003c``, ``\\u003e``, ``\\u0026`` (Rails' default ``escape_html_entities_in_json``).
"""

from __future__ import annotations

import json
from typing import Any

from ..kinds import KeysAndValues, RecordKind

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_ACTIVE_SUPPORT_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def ruby_json(value: Any) -> str:
    """``value.to_json`` as a Rails app writes it: compact, UTF-8, HTML entities escaped.

    Floats use the shortest round-trip form, as Ruby's ``Float#to_s`` does for the magnitudes
    written here (Ruby switches to exponents below 1e-4 and from 1e16; none are generated).
    """
    text = _ENCODE(value)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = text.translate(_ACTIVE_SUPPORT_ESCAPES)
    return text


class RecordBatch(KeysAndValues):
    """``(keys, values)`` of one kind, plus ``.kind`` and ``.ttls`` (seconds; ``None``: none)."""

    kind: RecordKind
    ttls: list[int] | None

    def __new__(
        cls, kind: RecordKind, keys: list[str], values: list[str], ttls: list[int] | None
    ) -> RecordBatch:
        batch = super().__new__(cls, keys, values)
        batch.kind = kind
        batch.ttls = ttls
        return batch
