"""Line splitter and frame decoder: bytes in arbitrary chunks -> frames or typed errors. No I/O."""

from __future__ import annotations

import binascii
import re
from collections import Counter
from collections.abc import Iterable
from typing import Final

from firmware_bridge.constants import CRC_INIT, MAX_LINE_BYTES, SEQ_MAX
from firmware_bridge.errors import FrameError, FrameErrorKind
from firmware_bridge.frame import Frame, new_frame

# One pass over a well-formed line; anything that does not match is classified by the slow path.
# Possessive quantifiers: a token's characters never need backtracking (the next character is
# always a separator of another class), which makes the match markedly cheaper.
_FRAME_RE: Final = re.compile(
    r"(!|[1-9][0-9]{0,4}) ([A-Z]++)((?: [a-z0-9_]++=[A-Za-z0-9._+\-]{1,32}+)*+)\*([0-9A-F]{4})"
)
_CRC_TAIL_RE: Final = re.compile(rb"[0-9A-F]{4}")
_PRINTABLE: Final = bytes(range(0x20, 0x7F))
_MAX_CONTENT_BYTES: Final = MAX_LINE_BYTES - 1

DecodeResult = Frame | FrameError


def parse_line(line: bytes, known_verbs: frozenset[str]) -> DecodeResult:
    """Parse one line (without its LF; a trailing CR is ignored) into a frame or an error."""
    if line[-1:] == b"\r":
        line = line[:-1]
    match = _FRAME_RE.fullmatch(line.decode("latin-1"))
    if match is None:
        return _classify(line)
    seq_text, verb, fields_text, crc_text = match.groups()
    if binascii.crc_hqx(line[:-5], CRC_INIT) != int(crc_text, 16):
        return FrameError(FrameErrorKind.BAD_CRC, line)
    if seq_text == "!":
        seq = None
    else:
        seq = int(seq_text)
        if seq > SEQ_MAX:
            return FrameError(FrameErrorKind.BAD_SYNTAX, line, "SEQ out of range")
    if verb not in known_verbs:
        return FrameError(FrameErrorKind.UNKNOWN_VERB, line, verb)
    if not fields_text:
        return new_frame(seq, verb, {})
    # The match proved every field is " KEY=VALUE" with no space or "=" inside KEY or VALUE, so
    # one split yields KEY, VALUE, KEY, VALUE, ... (much cheaper than a second regex pass).
    parts = fields_text[1:].replace("=", " ").split(" ")
    pairs = iter(parts)
    fields = dict(zip(pairs, pairs))
    if len(fields) * 2 != len(parts):
        return FrameError(FrameErrorKind.REPEATED_KEY, line)
    return new_frame(seq, verb, fields)


def _classify(line: bytes) -> FrameError:
    """Name the first rule a line that failed the fast match breaks (CRC before syntax)."""
    if not line:
        return FrameError(FrameErrorKind.BAD_SYNTAX, line, "empty line")
    if line.translate(None, _PRINTABLE):
        return FrameError(FrameErrorKind.BAD_CHAR, line)
    star = line.rfind(b"*")
    if star < 0:
        return FrameError(FrameErrorKind.MISSING_STAR, line)
    tail = line[star + 1 :]
    if not _CRC_TAIL_RE.fullmatch(tail):
        return FrameError(FrameErrorKind.BAD_SYNTAX, line, "CRC is not 4 upper-case hex digits")
    if binascii.crc_hqx(line[:star], CRC_INIT) != int(tail, 16):
        return FrameError(FrameErrorKind.BAD_CRC, line)
    return FrameError(FrameErrorKind.BAD_SYNTAX, line)


class FrameDecoder:
    """Splits a byte stream into lines and decodes them.

    Feed it chunks of any size; each call returns what the completed lines decoded to, in order.
    A line longer than the limit (200 bytes with its LF; a CR before the LF is not counted) yields one
    ``TOO_LONG`` error as soon as the limit is passed and everything up to the next LF is discarded. ``frames`` and ``errors`` (by kind) count every line.
    """

    def __init__(self, known_verbs: Iterable[str]) -> None:
        self._known = frozenset(known_verbs)
        self._buf = b""
        self._discarding = False
        self.frames = 0
        """Valid frames decoded so far."""
        self.errors: Counter[FrameErrorKind] = Counter()
        """Discarded lines so far, by kind."""

    @property
    def crc_errors(self) -> int:
        """Lines discarded for a bad CRC."""
        return self.errors[FrameErrorKind.BAD_CRC]

    @property
    def framing_errors(self) -> int:
        """Lines discarded for any other reason (length, characters, syntax, verb, keys)."""
        return sum(self.errors.values()) - self.errors[FrameErrorKind.BAD_CRC]

    def reset(self) -> None:
        """Forget a partial line (after reopening the port); counters are kept."""
        self._buf = b""
        self._discarding = False

    def feed(self, chunk: bytes) -> list[DecodeResult]:
        """Consume ``chunk``; return the frames and errors of every line it completed."""
        out: list[DecodeResult] = []
        if self._discarding:
            lf = chunk.find(b"\n")
            if lf < 0:
                return out
            self._discarding = False
            chunk = chunk[lf + 1 :]
        data = self._buf + chunk if self._buf else chunk
        lines = data.split(b"\n")
        rest = lines.pop()
        known = self._known
        append = out.append
        frames = 0
        for line in lines:
            if len(line) > _MAX_CONTENT_BYTES and (len(line) > _MAX_CONTENT_BYTES + 1 or line[-1:] != b"\r"):
                result: DecodeResult = FrameError(FrameErrorKind.TOO_LONG, line[:_MAX_CONTENT_BYTES])
            else:
                result = parse_line(line, known)
                if type(result) is Frame:
                    frames += 1
                    append(result)
                    continue
            self.errors[result.kind] += 1  # type: ignore[union-attr]
            append(result)
        if len(rest) > _MAX_CONTENT_BYTES and (len(rest) > _MAX_CONTENT_BYTES + 1 or rest[-1:] != b"\r"):
            self.errors[FrameErrorKind.TOO_LONG] += 1
            append(FrameError(FrameErrorKind.TOO_LONG, rest[:_MAX_CONTENT_BYTES]))
            rest = b""
            self._discarding = True
        self._buf = rest
        self.frames += frames
        return out
