"""JSON that keeps numbers exact: decimals stay `Decimal`, integers of any size stay `int`.

The Kubernetes API and kubectl write numbers as JSON text; Python's default reader turns `0.1`
into a binary float. Reading with `loads_exact` keeps the text's value, and `dumps_exact` writes
it back unchanged, so a capture or a Tags cell never shifts a cost by a float rounding.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

# A marker as json.dumps writes it: the quoted NUL, the token, then the number's text.
_QUOTED_MARKER = re.compile(r'"\\u0000([0-9a-f]{32}):([-0-9.]+)"')


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON, reading non-integer numbers as `Decimal`."""
    return json.loads(text, parse_float=Decimal)


def decimal_text(value: Decimal) -> str:
    """A finite decimal as plain text: no exponent, no trailing zeros after the point, no `+`."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def _with_decimal_markers(value: Any, marker: str) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write the non-finite number {value!r} as JSON")
        return marker + decimal_text(value)
    if isinstance(value, dict):
        return {key: _with_decimal_markers(item, marker) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_with_decimal_markers(item, marker) for item in value]
    return value


def dumps_exact(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON (UTF-8 text, no ASCII escaping) with every `Decimal` written exactly.

    The json module can only write binary floats, so each `Decimal` first becomes a string
    carrying a marker that no input can contain (a fresh random token), and each quoted marker
    with this call's token is then replaced by the number's text.
    """
    token = uuid.uuid4().hex
    text = json.dumps(
        _with_decimal_markers(value, f"\x00{token}:"),
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=sort_keys,
        allow_nan=False,
    )
    if token not in text:
        return text

    def number(match: re.Match[str]) -> str:
        # A string of the input may look like a marker, but it cannot hold this call's token.
        return match[2] if match[1] == token else match[0]

    return _QUOTED_MARKER.sub(number, text)
