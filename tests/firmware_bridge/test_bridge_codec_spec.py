"""The serial spec's "Transport" and "Frame" sections, one test per rule, in the spec's order.

Each test quotes the sentence it checks. The host's decoder is fed real wire bytes; a discarded line
must be counted and must never take the next valid frame with it.
"""

from __future__ import annotations

import pytest
from tests.firmware_bridge.fb_helpers import ALL_VERBS, decode_one, line

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.constants import MAX_LINE_BYTES
from firmware_bridge.crc import crc16_hex
from firmware_bridge.errors import FrameError, FrameErrorKind
from firmware_bridge.frame import Frame, encode_frame, make_frame, next_seq

NEXT = line("1 PING")
"""A valid frame sent after each bad line: it must survive."""


def discarded(data: bytes) -> tuple[FrameErrorKind, FrameDecoder]:
    """Feed ``data`` then a valid frame; the kind the first line was discarded as."""
    decoder = FrameDecoder(ALL_VERBS)
    results = decoder.feed(data + NEXT)
    assert len(results) == 2 and isinstance(results[0], FrameError), results
    assert results[1] == Frame(1, "PING", {}), "the next frame survives"
    assert sum(decoder.errors.values()) == 1 and decoder.frames == 1, "discarded and counted once"
    return results[0].kind, decoder


def padded(total_with_lf: int, ending: bytes = b"\n") -> bytes:
    """A valid ``PING`` line of exactly ``total_with_lf`` bytes counting its LF, then ``ending``."""
    key_len = total_with_lf - len("1 PING =v*XXXX\n")
    return line("1 PING " + "k" * key_len + "=v").replace(b"\n", ending)


# --- Transport -----------------------------------------------------------------------------------
def test_a_cr_before_the_lf_is_ignored() -> None:
    """"Text lines ... ending in LF (0x0A). A CR before the LF is ignored.\""""
    assert decode_one(line("9 PING").replace(b"\n", b"\r\n")) == Frame(9, "PING", {})


def test_a_line_of_200_bytes_with_its_lf_is_accepted() -> None:
    """"A line is at most 200 bytes including the LF\""""
    data = padded(MAX_LINE_BYTES)
    assert len(data) == 200 and isinstance(decode_one(data), Frame)


def test_a_cr_before_the_lf_is_not_counted_in_the_length() -> None:
    """"a CR before the LF is not counted.\" 200 bytes plus a CR: still accepted."""
    data = padded(MAX_LINE_BYTES, b"\r\n")
    assert len(data) == 201 and isinstance(decode_one(data), Frame)


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_one_byte_more_is_discarded_up_to_the_next_lf_and_counted_as_framing(ending: bytes) -> None:
    """"Longer input is discarded up to the next LF and counted as a framing error.\""""
    kind, decoder = discarded(padded(MAX_LINE_BYTES + 1, ending))
    assert kind is FrameErrorKind.TOO_LONG and decoder.framing_errors == 1 and decoder.crc_errors == 0


def test_a_long_line_split_across_reads_is_discarded_once() -> None:
    decoder = FrameDecoder(ALL_VERBS)
    data = padded(MAX_LINE_BYTES + 50) + NEXT
    results = [r for i in range(0, len(data), 7) for r in decoder.feed(data[i : i + 7])]
    assert [type(r) for r in results] == [FrameError, Frame] and decoder.errors[FrameErrorKind.TOO_LONG] == 1


def test_a_200_byte_line_whose_cr_arrives_alone_is_kept_until_its_lf() -> None:
    decoder = FrameDecoder(ALL_VERBS)
    data = padded(MAX_LINE_BYTES, b"\r\n")
    assert decoder.feed(data[:-1]) == [], "200 bytes and a CR: not yet too long"
    assert isinstance(decoder.feed(b"\n")[0], Frame)


def test_non_printable_bytes_are_discarded() -> None:
    """"Text lines of printable ASCII (0x20-0x7E)\""""
    assert discarded(line("9 PI\x01NG"))[0] is FrameErrorKind.BAD_CHAR
    assert discarded(line("9 PING").replace(b"PING", b"P\xc9NG"))[0] is FrameErrorKind.BAD_CHAR


# --- Frame: SEQ ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seq", ["1", "17", "65535"])
def test_seq_is_a_decimal_1_to_65535(seq: str) -> None:
    """"SEQ: a decimal integer 1..65535\""""
    assert decode_one(line(f"{seq} PING")) == Frame(int(seq), "PING", {})


@pytest.mark.parametrize("seq", ["0123", "01", "00017"])
def test_seq_with_leading_zeros_is_discarded(seq: str) -> None:
    """"written without leading zeros (a frame with `0123` is discarded)\""""
    assert discarded(line(f"{seq} PING"))[0] is FrameErrorKind.BAD_SYNTAX


@pytest.mark.parametrize("seq", ["0", "65536", "99999", "-1", "1a", "+5"])
def test_seq_out_of_range_or_not_decimal_is_discarded(seq: str) -> None:
    assert discarded(line(f"{seq} PING"))[0] is FrameErrorKind.BAD_SYNTAX


def test_seq_increments_and_wraps_65535_to_1() -> None:
    """"incremented per new request, wrapping 65535 -> 1\""""
    assert (next_seq(1), next_seq(65534), next_seq(65535)) == (2, 65535, 1)


def test_unsolicited_frames_carry_seq_bang() -> None:
    """"Frames the controller sends on its own (telemetry, events) carry SEQ `!`.\""""
    frame = decode_one(line("! BOOT fw=1.2"))
    assert isinstance(frame, Frame) and frame.seq is None and frame.unsolicited


# --- Frame: VERB, KEY, VALUE ----------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["ping", "Ping", "PING1", "PI_NG"])
def test_verb_is_upper_case_letters_only(verb: str) -> None:
    """"VERB: upper-case letters.\""""
    assert discarded(line(f"9 {verb}"))[0] is FrameErrorKind.BAD_SYNTAX


@pytest.mark.parametrize("key", ["D0", "d-0", "d.0", "dé"])
def test_key_is_lower_case_letters_digits_and_underscore(key: str) -> None:
    """"KEY: lower-case letters, digits and `_`.\""""
    kind, _ = discarded(line(f"9 OUT {key}=1"))
    assert kind in (FrameErrorKind.BAD_SYNTAX, FrameErrorKind.BAD_CHAR)


def test_keys_with_digits_and_underscores_are_valid() -> None:
    assert decode_one(line("! TEL n=1 t_0=20.5 d0=1")) == Frame(None, "TEL", {"n": "1", "t_0": "20.5", "d0": "1"})


@pytest.mark.parametrize("value", ["A-z.0_9+", "x" * 32, "-12.5", "1"])
def test_value_is_1_to_32_of_the_allowed_characters(value: str) -> None:
    """"VALUE: 1..32 characters of `A-Z a-z 0-9 . - _ +`\""""
    assert decode_one(line(f"9 OUT d0={value}")) == Frame(9, "OUT", {"d0": value})


@pytest.mark.parametrize("value", ["", "x" * 33, "a=b", "a*b", "a/b", "a,b"])
def test_value_outside_the_grammar_is_discarded(value: str) -> None:
    """"(no spaces, no `=`, no `*`)\" and at most 32 characters."""
    data = f"9 OUT d0={value}".encode()
    kind, _ = discarded(data + b"*" + crc16_hex(data).encode() + b"\n")
    assert kind in (FrameErrorKind.BAD_SYNTAX, FrameErrorKind.BAD_CRC)


def test_a_space_inside_a_value_splits_it_into_a_bad_field() -> None:
    assert discarded(line("9 OUT d0=1 2"))[0] is FrameErrorKind.BAD_SYNTAX


# --- Frame: CRC ------------------------------------------------------------------------------------
def test_crc_is_ccitt_false_with_check_value_29b1() -> None:
    """"check value of the ASCII bytes `123456789` is `29B1`\""""
    assert crc16_hex(b"123456789") == "29B1"


def test_crc_covers_every_byte_before_the_star_as_4_upper_case_hex_digits() -> None:
    """"over every byte before the `*`, written as 4 upper-case hex digits\""""
    body = b"17 OUT d0=425 d1=0 d2=1000"
    crc = crc16_hex(body)
    assert encode_frame(make_frame(17, "OUT", {"d0": 425, "d1": 0, "d2": 1000})) == body + b"*" + crc.encode() + b"\n"
    assert crc == "D20B", "has letters, so its lower-case form differs"
    assert discarded(body + b"*d20b\n")[0] is FrameErrorKind.BAD_SYNTAX, "lower-case hex is not the CRC's form"


def test_a_bad_crc_is_discarded_and_counted_as_a_crc_error() -> None:
    """"A frame with a bad CRC ... is discarded by the receiver and counted\""""
    kind, decoder = discarded(line("9 PING").replace(b"PING", b"PINH", 1))
    assert kind is FrameErrorKind.BAD_CRC and decoder.crc_errors == 1 and decoder.framing_errors == 0


def test_a_missing_star_or_short_crc_is_bad_syntax() -> None:
    assert discarded(b"9 PING\n")[0] is FrameErrorKind.MISSING_STAR
    assert discarded(b"9 PING*12\n")[0] is FrameErrorKind.BAD_SYNTAX


# --- Frame: discarded and counted ------------------------------------------------------------------
def test_an_unknown_verb_is_discarded_and_counted() -> None:
    """"an unknown verb ... is discarded by the receiver and counted\""""
    kind, decoder = discarded(line("9 REBOOT"))
    assert kind is FrameErrorKind.UNKNOWN_VERB and decoder.framing_errors == 1


def test_a_repeated_key_is_discarded_and_counted() -> None:
    """"or a key repeated is discarded by the receiver and counted\""""
    kind, decoder = discarded(line("9 OUT d0=1 d1=2 d0=3"))
    assert kind is FrameErrorKind.REPEATED_KEY and decoder.framing_errors == 1


def test_the_spec_example_decodes_to_its_fields() -> None:
    """"Example: `17 OUT d0=425 d1=0 d2=1000*` followed by the CRC\""""
    assert decode_one(line("17 OUT d0=425 d1=0 d2=1000")) == Frame(17, "OUT", {"d0": "425", "d1": "0", "d2": "1000"})
