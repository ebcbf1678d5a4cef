"""Printer error codes in words (pure, apart from reading the site's catalogue once at start).

Facts from public protocol notes (ha-bambulab, OpenBambuAPI and similar): an HMS entry is two 32-bit
numbers, `attr` and `code`, written `AAAA_BBBB_CCCC_DDDD` (attr's halves, then code's). The module that
raised it is attr's top byte (0x03 motion controller, 0x05 mainboard, 0x07 AMS, 0x08 toolhead, 0x0C
camera); the severity is code's top half (1 fatal, 2 serious, 3 common, 4 info). The vendor's wiki has
a page per code. A `print_error` is one 32-bit number written `XXXX_XXXX`; its top byte names the module
the same way. The vendor's text for each code is not shipped: a site may install a catalogue
(`[printers] hms_catalogue`, JSON `{"AAAA_BBBB_CCCC_DDDD" or "XXXX_XXXX": "text"}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

MODULES: Final[Mapping[int, str]] = MappingProxyType({
    0x03: "motion controller", 0x05: "mainboard", 0x07: "AMS", 0x08: "toolhead", 0x0C: "camera",
})
SEVERITIES: Final[Mapping[int, str]] = MappingProxyType({1: "fatal", 2: "serious", 3: "common", 4: "info"})
HMS_WIKI_URL: Final = "https://wiki.bambulab.com/en/x1/troubleshooting/hmscode/{code}"
PRINT_ERROR_SEARCH_URL: Final = "https://wiki.bambulab.com/en/search?q={code}"
CATALOGUE_MAX_BYTES: Final = 4 * 1024 * 1024
CATALOGUE_TEXT_MAX_CHARS: Final = 500
_HMS_RE: Final = re.compile(r"HMS_([0-9A-F]{4})_([0-9A-F]{4})_([0-9A-F]{4})_([0-9A-F]{4})")
_PRINT_ERROR_RE: Final = re.compile(r"([0-9A-F]{4})_([0-9A-F]{4})")
_CATALOGUE_KEY_RE: Final = re.compile(r"(?:[0-9A-F]{4}_){1,3}[0-9A-F]{4}")


class CatalogueError(ValueError):
    """The catalogue file cannot be used (said plainly at start-up)."""


@dataclass(frozen=True)
class DecodedError:
    code: str
    """As the API lists it: ``HMS_AAAA_BBBB_CCCC_DDDD`` or ``XXXX_XXXX``."""
    kind: str
    """``hms`` or ``print_error``."""
    module: str
    severity: str | None
    """``fatal``, ``serious``, ``common``, ``info`` (HMS only), or ``None``."""
    url: str
    text: str | None
    """The vendor's words from the site's catalogue, if it has them."""


def decode(code: str, catalogue: Mapping[str, str]) -> DecodedError | None:
    """``code`` (as ``normalize`` formats it) in words; ``None`` for anything else."""
    hms = _HMS_RE.fullmatch(code)
    if hms is not None:
        key = code.removeprefix("HMS_")
        module = MODULES.get(int(hms[1][:2], 16), f"module 0x{hms[1][:2]}")
        severity = SEVERITIES.get(int(hms[3], 16), "unknown")
        return DecodedError(code, "hms", module, severity, HMS_WIKI_URL.format(code=key), catalogue.get(key))
    if _PRINT_ERROR_RE.fullmatch(code):
        module = MODULES.get(int(code[:2], 16), f"module 0x{code[:2]}")
        return DecodedError(code, "print_error", module, None, PRINT_ERROR_SEARCH_URL.format(code=code),
                            catalogue.get(code))
    return None


def load_catalogue(path: Path | None) -> Mapping[str, str]:
    """The site's catalogue (empty without one); raises :class:`CatalogueError` with a plain reason."""
    if path is None:
        return MappingProxyType({})
    try:
        if path.stat().st_size > CATALOGUE_MAX_BYTES:
            raise CatalogueError(f"{path}: larger than {CATALOGUE_MAX_BYTES // (1024 * 1024)} MB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: must be a JSON object of code -> text")
    catalogue: dict[str, str] = {}
    for key, text in data.items():
        code = key.upper().removeprefix("HMS_")
        if not _CATALOGUE_KEY_RE.fullmatch(code) or not isinstance(text, str):
            raise CatalogueError(f"{path}: entry {key[:40]!r} is not CODE -> text (codes like 0300_0100_0001_0007)")
        catalogue[code] = text[:CATALOGUE_TEXT_MAX_CHARS]
    return MappingProxyType(catalogue)
