"""JSON that keeps numbers exact: decimals stay `Decimal`, integers of any size stay `int`.

The Kubernetes API and kubectl write numbers as JSON text; Python's default reader turns `0.1`
into a binary float. Reading with `loads_exact` keeps the text's value, and `dumps_exact` writes
it back unchanged, so a capture or a Tags cell never shifts a cost by a float rounding.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

# A Decimal's marker as the encoder writes it: a quoted NUL (escaped), a 32-digit hex token, a
# colon and the number's text. A string of the input can look the same, but it cannot hold the
# token of the call; since a match never spans two JSON strings, a look-alike never hides a
# marker.
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


def dumps_exact(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON (UTF-8 text, no ASCII escaping) with every `Decimal` written exactly.

    The json module can only write binary floats, so the encoder writes each `Decimal` as a string
    carrying a marker with a fresh random token, and each quoted marker holding that token is then
    replaced by the number's text. The pattern is compiled once; only the token changes per call.
    """
    token = secrets.token_hex(16)
    marker = f"\x00{token}:"

    def decimal_marker(item: Any) -> str:
        if not isinstance(item, Decimal):
            raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")
        if not item.is_finite():
            raise ValueError(f"cannot write the non-finite number {item!r} as JSON")
        return marker + decimal_text(item)

    encoder = json.JSONEncoder(
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=sort_keys,
        allow_nan=False,
        default=decimal_marker,
    )
    text = encoder.encode(value)
    if token not in text:
        return text

    def number(match: re.Match[str]) -> str:
        # An input string may look like a marker, but it cannot hold this call's token.
        return match[2] if match[1] == token else match[0]

    return _QUOTED_MARKER.sub(number, text)
