"""Typed configuration of the printers (the `[printers]` section)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from gateway.printers import const


def _resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if value is not None and not value.is_absolute() and base is not None:
        return (Path(base) / value).resolve()
    return value


_OptionalPath = Annotated[Path | None, AfterValidator(_resolve_path)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class TemperatureLimits(_Section):
    """The highest targets a client may set; requests above are clamped to these."""

    nozzle_max_c: float = Field(const.DEFAULT_NOZZLE_MAX_C, ge=0, le=const.ABSOLUTE_NOZZLE_MAX_C,
                                description="Highest nozzle target, degrees C.")
    bed_max_c: float = Field(const.DEFAULT_BED_MAX_C, ge=0, le=const.ABSOLUTE_BED_MAX_C,
                             description="Highest bed target, degrees C.")


class PrinterConfig(_Section):
    """One printer in LAN mode."""

    serial: str = Field(pattern=const.SERIAL_PATTERN, description="Printer serial (upper-case); also its certificate CN.")
    name: str = Field("", max_length=64, description="Display name.")
    host: str = Field(min_length=1, max_length=253, description="Printer address on the printer VLAN.")
    port: int = Field(const.MQTT_PORT, ge=1, le=65535, description="MQTT over TLS port.")
    access_code_encrypted: str | None = Field(
        None, max_length=512,
        description="LAN access code encrypted with the gateway's secrets key "
                    "(or set it with `edge-gateway printers set-code SERIAL`).",
    )
    ca_file: _OptionalPath = Field(None, description="CA bundle that signed the printer's certificate (CN checked against serial).")
    pin_sha256: str | None = Field(
        None, pattern=const.SHA256_PIN_PATTERN,
        description="SHA-256 of the printer's certificate (hex, lower case); or store one with `printers pin SERIAL`.",
    )
    insecure_skip_verify: bool = Field(
        False, description="Connect without verifying the printer's certificate (logged loudly; never in production)."
    )
    limits: TemperatureLimits = Field(default_factory=TemperatureLimits)

    @property
    def label(self) -> str:
        return self.name or self.serial


class PrintersSection(_Section):
    """Printers the gateway watches, and the simulated printers of the demo site."""

    printers: list[PrinterConfig] = Field(default_factory=list, description="The printers.")
    offline_after_s: float = Field(const.OFFLINE_AFTER_S, gt=0, le=3600,
                                   description="No report for this long: offline, and a full report is requested.")
    reconnect_initial_s: float = Field(const.RECONNECT_INITIAL_S, gt=0, le=600, description="First reconnect delay.")
    reconnect_max_s: float = Field(const.RECONNECT_MAX_S, gt=0, le=3600, description="Cap of the reconnect delay.")
    hms_catalogue: Path | None = Field(
        None, description="JSON file of error code -> the vendor's text (codes like 0300_0100_0001_0007 or "
                          "0300_400C), shown with each printer error; without it errors show module, severity and a "
                          "link to the vendor's page.",
    )
    simulated_printers: int = Field(
        0, ge=0, le=10,
        description="Demo only: start a loopback mosquitto (TLS + password file) and this many simulated printers, "
                    "and watch them (in addition to `printers`).",
    )

    @model_validator(mode="after")
    def _unique_serials(self) -> PrintersSection:
        seen: set[str] = set()
        for index, printer in enumerate(self.printers):
            if printer.serial in seen:
                raise ValueError(f"printers[{index}].serial: {printer.serial} listed twice")
            seen.add(printer.serial)
        return self
