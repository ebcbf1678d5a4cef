"""Decoding a live message's JSON text with a nesting limit (checked before the parser runs).

Python's `json` parser recurses once per nesting level, so a few kilobytes of `[[[[...` raise
`RecursionError` inside it. The depth is measured first, in one linear pass that skips string contents;
a message nested deeper than the limit is refused as a bad message without being parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ESCAPED_BACKSLASH = "\\\\"
_ESCAPED_QUOTE = '\\"'
_BRACKET = re.compile(r"[\[\]{}]")
_OPENING = frozenset("[{")


class JsonRefused(ValueError):
    """The text is not JSON, or is nested too deeply; the message is safe to return to a client."""


def nesting_depth(text: str, limit: int) -> int:
    """The deepest nesting of arrays/objects outside string literals, counted up to `limit + 1`."""
    # drop escapes first so that every remaining quote opens or closes a string literal
    plain = text.replace(_ESCAPED_BACKSLASH, "").replace(_ESCAPED_QUOTE, "")
    depth = deepest = 0
    for index, outside in enumerate(plain.split('"')):
        if index % 2:  # inside a string literal
            continue
        for match in _BRACKET.finditer(outside):
            if match.group() in _OPENING:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > limit:
                        return deepest
            else:
                depth -= 1
    return deepest


def loads_limited(text: str, max_depth: int) -> Any:
    """`json.loads` for text nested at most `max_depth` levels; raises `JsonRefused` otherwise."""
    if nesting_depth(text, max_depth) > max_depth:
        raise JsonRefused(f"message is nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError cannot happen below the limit; belt and braces
        raise JsonRefused("message is not valid JSON") from None
