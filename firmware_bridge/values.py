"""Strict conversion between protocol VALUE strings and Python numbers."""

from __future__ import annotations

import math
import re
from typing import Final

_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,19}")
_FLOAT_RE: Final = re.compile(r"[+-]?[0-9]{1,10}(?:\.[0-9]{1,6})?")


class ValueSyntaxError(ValueError):
    """A VALUE is not a number of the expected form."""


def parse_int(text: str) -> int:
    """Parse a decimal integer (optional sign, no exponent); raise :class:`ValueSyntaxError`."""
    if not _INT_RE.fullmatch(text):
        raise ValueSyntaxError(f"not an integer: {text!r}")
    return int(text)


def parse_float(text: str) -> float:
    """Parse a plain decimal number such as ``-3``, ``12.5`` (no exponent, no nan/inf)."""
    if not _FLOAT_RE.fullmatch(text):
        raise ValueSyntaxError(f"not a decimal number: {text!r}")
    return float(text)


def format_value(value: str | int | float, decimals: int = 2) -> str:
    """Render a Python value as a protocol VALUE (not validated here: the encoder does that)."""
    if isinstance(value, bool):
        raise TypeError("booleans have no protocol representation")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number: {value!r}")
        text = f"{value:.{decimals}f}"
        return "0" if text.strip("-0.") == "" else text
    return value
