"""The optimised codec against a slow reference parser written straight from the spec's grammar.

Lines are valid frames mutated with the characters that matter to the grammar, re-checksummed most
of the time so the syntax rules (not only the CRC) are exercised. Both parsers must agree on every
line: the same frame, or the same reason for discarding it. This is what keeps speed-ups honest.
"""

from __future__ import annotations

import binascii

from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmware_bridge.codec import FrameDecoder, parse_line
from firmware_bridge.errors import FrameError, FrameErrorKind
from firmware_bridge.frame import HOST_RX_VERBS, REQUEST_VERBS, Frame, encode_frame

VERBS = HOST_RX_VERBS
KEY_CHARS = set(b"abcdefghijklmnopqrstuvwxyz0123456789_")
VALUE_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_+")
HEX_UPPER = set(b"0123456789ABCDEF")


def reference_parse(line: bytes, verbs: frozenset[str]) -> Frame | FrameErrorKind:
    """Spec grammar, rule by rule, in the codec's documented order of checks.

    Order: characters, ``*``, CRC digits, CRC value, syntax, verb, repeated key.
    """
    if line.endswith(b"\r"):
        line = line[:-1]
    if any(not 0x20 <= byte <= 0x7E for byte in line):
        return FrameErrorKind.BAD_CHAR
    if b"*" not in line:
        return FrameErrorKind.MISSING_STAR
    body, _, crc = line.rpartition(b"*")
    if len(crc) != 4 or not set(crc) <= HEX_UPPER:
        return FrameErrorKind.BAD_SYNTAX
    if binascii.crc_hqx(body, 0xFFFF) != int(crc, 16):
        return FrameErrorKind.BAD_CRC
    tokens = body.split(b" ")
    if len(tokens) < 2:
        return FrameErrorKind.BAD_SYNTAX
    seq_token, verb_token, field_tokens = tokens[0], tokens[1], tokens[2:]
    if seq_token == b"!":
        seq = None
    elif seq_token.isdigit() and not seq_token.startswith(b"0") and 1 <= int(seq_token) <= 65535:
        seq = int(seq_token)
    else:
        return FrameErrorKind.BAD_SYNTAX
    if not verb_token or not all(0x41 <= byte <= 0x5A for byte in verb_token):
        return FrameErrorKind.BAD_SYNTAX
    pairs = []
    for token in field_tokens:
        if token.count(b"=") != 1:
            return FrameErrorKind.BAD_SYNTAX
        key, _, value = token.partition(b"=")
        if not key or not set(key) <= KEY_CHARS:
            return FrameErrorKind.BAD_SYNTAX
        if not 1 <= len(value) <= 32 or not set(value) <= VALUE_CHARS:
            return FrameErrorKind.BAD_SYNTAX
        pairs.append((key.decode(), value.decode()))
    verb = verb_token.decode()
    if verb not in verbs:
        return FrameErrorKind.UNKNOWN_VERB
    fields = dict(pairs)
    if len(fields) != len(pairs):
        return FrameErrorKind.REPEATED_KEY
    return Frame(seq, verb, fields)


def codec_parse(line: bytes, verbs: frozenset[str]) -> Frame | FrameErrorKind:
    result = parse_line(line, verbs)
    return result.kind if isinstance(result, FrameError) else result


# Characters that change the meaning of a line, plus a few that are plainly illegal.
GRAMMAR_CHARS = b" =*!\r" + b"Aa0_.-+Z9z" + b"\x00\x09\x7f\xe9"

base_frames = st.builds(
    Frame,
    seq=st.one_of(st.none(), st.integers(1, 65535)),
    verb=st.sampled_from(sorted(VERBS | REQUEST_VERBS)),
    fields=st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=4),
        st.text("abcdefghijklmnopqrstuvwxyz0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ.-+", min_size=1, max_size=32),
        max_size=4,
    ),
)
edits = st.lists(
    st.tuples(
        st.sampled_from(["insert", "replace", "delete", "duplicate", "repeat_field"]),
        st.integers(0, 300),
        st.sampled_from(list(GRAMMAR_CHARS)),
    ),
    max_size=4,
)


def mutate(body: bytearray, edit_list: list[tuple[str, int, int]]) -> bytes:
    for op, position, char in edit_list:
        if not body and op != "insert":
            continue
        i = position % (len(body) + (1 if op == "insert" else 0))
        if op == "repeat_field":
            body += b" " + bytes(body).rsplit(b" ", 1)[-1]
        elif op == "insert":
            body.insert(i, char)
        elif op == "replace":
            body[i] = char
        elif op == "delete":
            del body[i]
        else:
            body[i:i] = body[i : i + 5]
    return bytes(body)


@settings(max_examples=1000, deadline=None)
@given(
    frame=base_frames,
    edit_list=edits,
    crc=st.sampled_from(["good", "good", "off_by_one", "random"]),
    tail=st.binary(max_size=6),
)
@example(frame=Frame(1, "OK", {"a": "1"}), edit_list=[("repeat_field", 0, 32)], crc="good", tail=b"")
@example(frame=Frame(70, "OK", {}), edit_list=[("insert", 0, ord("9"))], crc="good", tail=b"")
def test_codec_agrees_with_the_reference_parser(
    frame: Frame, edit_list: list[tuple[str, int, int]], crc: str, tail: bytes
) -> None:
    body = mutate(bytearray(encode_frame(frame)[:-1].rpartition(b"*")[0]), edit_list)
    if crc == "random":
        line = body + b"*" + tail
    else:
        value = binascii.crc_hqx(body, 0xFFFF) ^ (crc == "off_by_one")
        line = body + b"*" + f"{value:04X}".encode()
    if len(line) > 199 or b"\n" in line:
        return  # the splitter's business (tested in test_bridge_codec.py)
    assert codec_parse(line, VERBS) == reference_parse(line, VERBS), line
    # The streaming decoder gives the same answer, with an LF and with a CR-LF ending.
    endings = [b"\n"] if line.endswith(b"\r") else [b"\n", b"\r\n"]
    for ending in endings:
        decoded = FrameDecoder(VERBS).feed(line + ending)
        assert len(decoded) == 1
        got = decoded[0].kind if isinstance(decoded[0], FrameError) else decoded[0]
        assert got == reference_parse(line, VERBS), (line, ending)


def test_the_mutations_reach_every_error_class() -> None:
    """The reference itself is checked on one hand-made line per class."""
    def crc_line(body: bytes) -> bytes:
        return body + b"*" + f"{binascii.crc_hqx(body, 0xFFFF):04X}".encode()

    cases = {
        FrameErrorKind.BAD_CHAR: crc_line(b"1 OK a=\x01"),
        FrameErrorKind.MISSING_STAR: b"1 OK",
        FrameErrorKind.BAD_CRC: b"1 OK*0000",
        FrameErrorKind.BAD_SYNTAX: crc_line(b"1 OK a==1"),
        FrameErrorKind.UNKNOWN_VERB: crc_line(b"1 NOPE"),
        FrameErrorKind.REPEATED_KEY: crc_line(b"1 OK a=1 a=2"),
    }
    for kind, line in cases.items():
        assert reference_parse(line, VERBS) is kind
        assert codec_parse(line, VERBS) is kind
