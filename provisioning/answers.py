"""Site values for provisioning: from a small answers TOML file, overridden by command-line flags.

Example answers file::

    gateway_id = "gw-hall2-01"
    listen = ["192.168.40.2:8443"]
    tls_hosts = ["gw-hall2-01.factory.example"]
    extruder_usb_id = "2e8a:000a"
    extruder_usb_serial = "E6614C311B7F2A37"
    # The site's networks: with all three named, the unit gets IPAddressDeny=any and an IPAddressAllow=
    # for each (plus localhost); with any of them missing, the allow-list is left out (provisioning says so).
    lan_networks = ["10.20.0.0/16"]            # technicians, the dashboard
    printer_networks = ["192.168.40.0/24"]     # the printer VLAN
    upstream_networks = ["203.0.113.10/32"]    # the cloud connector's endpoint ([] for a site without one)
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.config.models import DEFAULT_HTTP_PORT, GATEWAY_ID_PATTERN
from provisioning import const

LISTEN_PATTERN = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>\d{1,5})$")


NETWORK_ANSWERS: tuple[str, ...] = ("lan_networks", "printer_networks", "upstream_networks")
"""The answers that name the site's networks (the unit's IP allow-list is rendered only with all three)."""


@dataclass(frozen=True)
class SiteNetworks:
    """The site's networks as normalized CIDR strings."""

    lan: tuple[str, ...]
    printer_vlan: tuple[str, ...]
    upstream: tuple[str, ...]


class AnswersError(Exception):
    """The answers file or a flag holds a value provisioning cannot use (the message says which)."""


class SiteAnswers(BaseModel):
    """What differs from one site (and device) to the next."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway_id: str | None = Field(
        None, pattern=GATEWAY_ID_PATTERN, description="Gateway id; generated (gw-<8 hex>) when not given."
    )
    listen: list[str] = Field(
        default_factory=lambda: [f"127.0.0.1:{DEFAULT_HTTP_PORT}"], min_length=1,
        description="API addresses as HOST:PORT ([v6]:PORT), e.g. the printer-VLAN address 192.168.40.2:8443.",
    )
    allow_wildcard_bind: bool = Field(False, description="Allow 0.0.0.0 / :: in listen.")
    tls_hosts: list[str] = Field(
        default_factory=list, description="Extra DNS names or addresses for the API certificate."
    )
    log_format: Literal["text", "json"] = Field("json", description="'json' for journald and shippers.")
    extruder_usb_id: str = Field(
        const.DEFAULT_EXTRUDER_USB_ID, pattern=r"^[0-9a-f]{4}:[0-9a-f]{4}$",
        description="USB vendor:product of the extruder controller board (lsusb shows it).",
    )
    extruder_usb_serial: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="USB serial number of the board, when two boards of the same kind are plugged in.",
    )

    lan_networks: list[str] | None = Field(
        None, description="The site LAN's networks (CIDR), where technicians and the dashboard connect from.",
    )
    printer_networks: list[str] | None = Field(
        None, description="The printer VLAN's networks (CIDR).",
    )
    upstream_networks: list[str] | None = Field(
        None, description="Upstream (cloud connector) addresses or networks (CIDR); [] when the site has none.",
    )

    @field_validator("lan_networks", "printer_networks", "upstream_networks")
    @classmethod
    def _networks(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        return [parse_network(value) for value in values]

    def site_networks(self) -> SiteNetworks | None:
        """The site's networks when the answers name all three kinds (an empty list counts as named)."""
        if self.lan_networks is None or self.printer_networks is None or self.upstream_networks is None:
            return None
        return SiteNetworks(lan=tuple(self.lan_networks), printer_vlan=tuple(self.printer_networks),
                            upstream=tuple(self.upstream_networks))

    def missing_networks(self) -> list[str]:
        """Which of the three network answers are not given."""
        return [name for name in NETWORK_ANSWERS if getattr(self, name) is None]

    @field_validator("listen")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_listen(value)
        return values

    @field_validator("tls_hosts")
    @classmethod
    def _host_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[A-Za-z0-9.:-]{1,253}", value):
                raise ValueError(f"not a host name or address: {value!r}")
        return values

    def listen_addresses(self) -> list[tuple[str, int]]:
        return [parse_listen(value) for value in self.listen]


def parse_listen(value: str) -> tuple[str, int]:
    """'192.168.40.2:8443' -> ('192.168.40.2', 8443); '[::1]:8443' -> ('::1', 8443)."""
    match = LISTEN_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not HOST:PORT with an IP address: {value!r}")
    host = match.group("v6") or match.group("v4")
    port = int(match.group("port"))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address: {host!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return host, port


def parse_network(value: str) -> str:
    """'192.168.40.0/24' -> '192.168.40.0/24'; '203.0.113.10' -> '203.0.113.10/32'. Host bits must be
    clear (a typo like 192.168.40.2/24 is refused), and a network matching everything is refused (that
    is no allow-list: leave the answers out instead)."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IP network in CIDR notation: {value!r} ({exc})") from None
    if network.prefixlen == 0:
        raise ValueError(f"{value!r} matches every address: leave the site's networks out instead")
    return str(network)


def load_answers(path: Path | None, overrides: dict[str, Any]) -> SiteAnswers:
    """The answers file (if any) with the flags that were given (not None) on top."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise AnswersError(f"{path}: cannot read answers file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise AnswersError(f"{path}: not valid TOML ({exc})") from None
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return SiteAnswers.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answers'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise AnswersError(f"{path or 'flags'}: {problems}") from None
