"""Codec: CRC, encoding, every class of malformed line, chunking (incl. property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.firmware_bridge.fb_helpers import ALL_VERBS, decode_one, line

from firmware_bridge.codec import FrameDecoder, parse_line
from firmware_bridge.constants import MAX_LINE_BYTES
from firmware_bridge.crc import crc16, crc16_hex
from firmware_bridge.errors import FrameEncodeError, FrameError, FrameErrorKind
from firmware_bridge.frame import HOST_RX_VERBS, REQUEST_VERBS, Frame, encode_frame, make_frame, next_seq


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert crc16_hex(b"123456789") == "29B1"


def test_spec_example_encodes_with_crc_of_the_body() -> None:
    frame = make_frame(17, "OUT", {"d0": 425, "d1": 0, "d2": 1000})
    body = b"17 OUT d0=425 d1=0 d2=1000"
    assert encode_frame(frame) == body + b"*" + crc16_hex(body).encode() + b"\n"


@pytest.mark.parametrize(
    "frame",
    [
        Frame(1, "HELLO", {"proto": "1"}),
        Frame(65535, "PING", {}),
        Frame(42, "OK", {"proto": "1", "fw": "1.2.3-rc_1+x", "id": "AB-12", "zones": "8"}),
        Frame(None, "TEL", {"n": "0", "up": "12", "t0": "-3.25", "t1": "open", "d0": "1000", "fault": "none"}),
        Frame(None, "FAULT", {"code": "sensor", "zone": "-"}),
        Frame(7, "ERR", {"code": "range", "msg": "d0"}),
        Frame(3, "MOTOR", {"rpm": "x" * 32}),
    ],
)
def test_round_trip(frame: Frame) -> None:
    assert decode_one(encode_frame(frame)) == frame


def test_field_order_is_kept() -> None:
    frame = Frame(5, "OUT", {"d2": "1", "d0": "2", "d1": "3"})
    decoded = decode_one(encode_frame(frame))
    assert isinstance(decoded, Frame)
    assert list(decoded.fields) == ["d2", "d0", "d1"]


def test_cr_before_lf_is_ignored() -> None:
    assert decode_one(line("9 PING").replace(b"\n", b"\r\n")) == Frame(9, "PING", {})


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (line("9 PING").replace(b"PING", b"PONG", 1), FrameErrorKind.BAD_CRC),
        (b"9 PING*0000\n", FrameErrorKind.BAD_CRC),
        (b"9 PING\n", FrameErrorKind.MISSING_STAR),
        (line("9 PI\x07NG"), FrameErrorKind.BAD_CHAR),
        (line("9 PING").replace(b"\n", b"\r\r\n"), FrameErrorKind.BAD_CHAR),
        (line("9 OUT d0=\xe9").replace(b"\xc3\xa9", b"\xe9"), FrameErrorKind.BAD_CHAR),
        (line("9 OUT\td0=1"), FrameErrorKind.BAD_CHAR),
        (line("9 OUT d0=1 d0=2"), FrameErrorKind.REPEATED_KEY),
        (line("9 REBOOT"), FrameErrorKind.UNKNOWN_VERB),
        (line("9 ping"), FrameErrorKind.BAD_SYNTAX),
        (line("0 PING"), FrameErrorKind.BAD_SYNTAX),
        (line("65536 PING"), FrameErrorKind.BAD_SYNTAX),
        (line("09 PING"), FrameErrorKind.BAD_SYNTAX),
        (line("9  PING"), FrameErrorKind.BAD_SYNTAX),
        (line("9 PING "), FrameErrorKind.BAD_SYNTAX),
        (line("9 OUT D0=1"), FrameErrorKind.BAD_SYNTAX),
        (line("9 OUT d0="), FrameErrorKind.BAD_SYNTAX),
        (line("9 OUT d0=a=b"), FrameErrorKind.BAD_SYNTAX),
        (line("9 OUT d0=" + "1" * 33), FrameErrorKind.BAD_SYNTAX),
        (line("! TEL").replace(b"\n", b"").lower() + b"\n", FrameErrorKind.BAD_SYNTAX),
        (b"\n", FrameErrorKind.BAD_SYNTAX),
    ],
)
def test_malformed_lines_are_rejected_and_counted(data: bytes, kind: FrameErrorKind) -> None:
    decoder = FrameDecoder(ALL_VERBS)
    results = decoder.feed(data + line("1 PING"))
    assert isinstance(results[0], FrameError) and results[0].kind is kind, results[0]
    assert results[1] == Frame(1, "PING", {}), "the next frame must survive"
    assert decoder.errors[kind] == 1 and decoder.frames == 1
    expected_crc = 1 if kind is FrameErrorKind.BAD_CRC else 0
    assert (decoder.crc_errors, decoder.framing_errors) == (expected_crc, 1 - expected_crc)


def test_unknown_verb_depends_on_direction() -> None:
    assert isinstance(parse_line(line("! BOOT fw=1").rstrip(b"\n"), HOST_RX_VERBS), Frame)
    error = parse_line(line("! BOOT fw=1").rstrip(b"\n"), REQUEST_VERBS)
    assert isinstance(error, FrameError) and error.kind is FrameErrorKind.UNKNOWN_VERB


def test_line_of_exactly_the_limit_is_accepted_one_more_byte_is_not() -> None:
    for ending in (b"\n", b"\r\n"):
        # "1 PING " + KEY "=v" + "*CRC" + LF is the limit; a CR before the LF is not counted.
        key_len = MAX_LINE_BYTES - len("1 PING =v*XXXX") - 1
        ok = line("1 PING " + "k" * key_len + "=v").replace(b"\n", ending)
        assert len(ok) == MAX_LINE_BYTES + len(ending) - 1
        assert isinstance(decode_one(ok), Frame)
        too_long = line("1 PING " + "k" * (key_len + 1) + "=v").replace(b"\n", ending)
        result = decode_one(too_long)
        assert isinstance(result, FrameError) and result.kind is FrameErrorKind.TOO_LONG


def test_too_long_line_is_discarded_up_to_the_next_lf_across_chunks() -> None:
    decoder = FrameDecoder(ALL_VERBS)
    assert decoder.feed(b"1 PING " + b"x" * 150) == []
    first = decoder.feed(b"y" * 100)
    assert len(first) == 1 and isinstance(first[0], FrameError) and first[0].kind is FrameErrorKind.TOO_LONG
    assert decoder.feed(b"z" * 5000) == [], "still discarding, and reported once"
    assert decoder.feed(b"tail*1234\n" + line("2 PING")) == [Frame(2, "PING", {})]
    assert decoder.errors[FrameErrorKind.TOO_LONG] == 1


def test_encoder_refuses_what_the_grammar_forbids() -> None:
    bad = [
        Frame(0, "PING", {}),
        Frame(65536, "PING", {}),
        Frame(1, "ping", {}),
        Frame(1, "OUT", {"D0": "1"}),
        Frame(1, "OUT", {"d0": ""}),
        Frame(1, "OUT", {"d0": "a b"}),
        Frame(1, "OUT", {"d0": "1" * 33}),
        Frame(1, "OUT", {f"k{i}": "v" * 30 for i in range(6)}),
    ]
    for frame in bad:
        with pytest.raises(FrameEncodeError):
            encode_frame(frame)
    with pytest.raises(ValueError):
        make_frame(1, "MOTOR", {"rpm": float("nan")})


def test_seq_wraps_from_65535_to_1() -> None:
    assert next_seq(1) == 2
    assert next_seq(65534) == 65535
    assert next_seq(65535) == 1


# --- properties ----------------------------------------------------------------------------

KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
VALUE_ALPHABET = KEY_ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-+"
keys = st.text(KEY_ALPHABET, min_size=1, max_size=6)
values = st.text(VALUE_ALPHABET, min_size=1, max_size=32)
frames = st.builds(
    Frame,
    seq=st.one_of(st.none(), st.integers(1, 65535)),
    verb=st.sampled_from(sorted(ALL_VERBS)),
    fields=st.dictionaries(keys, values, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes_never_crash_the_decoder(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(ALL_VERBS)
    results = [r for chunk in chunks for r in decoder.feed(chunk)]
    assert all(isinstance(r, Frame | FrameError) for r in results)
    assert decoder.frames + sum(decoder.errors.values()) == len(results)
    decoder.feed(b"\n" + line("5 PING"))
    assert decoder.frames >= 1, "the decoder resynchronises after garbage"


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(frames, min_size=1, max_size=10), data=st.data())
def test_valid_frames_survive_arbitrary_splitting(batch: list[Frame], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(f) for f in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    decoder = FrameDecoder(ALL_VERBS)
    assert [r for piece in pieces for r in decoder.feed(piece)] == batch
    assert not decoder.errors


@settings(max_examples=200, deadline=None)
@given(frame=frames, position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_any_single_byte_change_is_never_a_different_valid_frame(frame: Frame, position: int, flip: int) -> None:
    data = bytearray(encode_frame(frame)[:-1])
    data[position % len(data)] ^= flip
    # A byte turned into LF splits the line: then no part may decode either.
    results = FrameDecoder(ALL_VERBS).feed(bytes(data) + b"\n")
    assert all(isinstance(r, FrameError) or r == frame for r in results)
