"""CRC-16/CCITT-FALSE as the protocol uses it (poly 0x1021, init 0xFFFF, no reflection, no xor-out)."""

from __future__ import annotations

import binascii

from firmware_bridge.constants import CRC_INIT


def crc16(data: bytes) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data`` (check value of ``b"123456789"`` is 0x29B1)."""
    return binascii.crc_hqx(data, CRC_INIT)


def crc16_hex(data: bytes) -> str:
    """Return the CRC of ``data`` as the wire writes it: 4 upper-case hex digits."""
    return f"{binascii.crc_hqx(data, CRC_INIT):04X}"
