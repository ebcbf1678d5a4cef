"""The gateway <-> control process channel: one JSON object per line on a socketpair.

Both sides validate every line with these pydantic models (unknown fields refused). The gateway sends
commands (``op``), each but ``configure`` with an ``id``; the control process answers each with one
``reply`` of the same id, and on its own sends a ``state`` every loop period and ``event`` messages
(faults latched, autotune finished). EOF on the socket means the other side is gone.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.control.io_const import IPC_LINE_MAX_BYTES
from gateway.control.settings import ExtruderSection
from gateway.control.state import ExtruderState, GainsView


class IpcError(Exception):
    """A line that is not a valid message (or too long)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- gateway -> control process -----------------------------------------------------------------
class Configure(_Message):
    """First message: what to run. ``gains`` are stored autotune results per zone (override the config)."""

    op: Literal["configure"] = "configure"
    settings: ExtruderSection
    port: str = Field(description="Serial port path to open (the simulator's link when simulated).")
    gains: dict[int, GainsView] = Field(default_factory=dict)


class SetSetpoint(_Message):
    op: Literal["setpoint"] = "setpoint"
    id: int
    zone: int
    setpoint_c: float | None


class SetMotor(_Message):
    op: Literal["motor"] = "motor"
    id: int
    rpm: float


class EmergencyStop(_Message):
    op: Literal["estop"] = "estop"
    id: int
    source: str = Field(max_length=64, description="Who pressed it (for the fault detail).")


class ResetFaults(_Message):
    op: Literal["reset"] = "reset"
    id: int


class StartAutotune(_Message):
    op: Literal["autotune"] = "autotune"
    id: int
    zone: int
    target_c: float


class ResetTiming(_Message):
    """Start the loop timing statistics afresh (the benchmark measures each phase on its own)."""

    op: Literal["timing_reset"] = "timing_reset"
    id: int


class DriveMockPin(_Message):
    """Test and simulated-site only: drive a mock GPIO input (refused with real pins)."""

    op: Literal["mock_pin"] = "mock_pin"
    id: int
    pin: int = Field(ge=0, le=63)
    high: bool


Command = Annotated[
    Configure | SetSetpoint | SetMotor | EmergencyStop | ResetFaults | StartAutotune | ResetTiming | DriveMockPin,
    Field(discriminator="op"),
]
RequestCommand = SetSetpoint | SetMotor | EmergencyStop | ResetFaults | StartAutotune | ResetTiming | DriveMockPin


# --- control process -> gateway -----------------------------------------------------------------
class ReplyMessage(_Message):
    """Answer to one command. ``code`` names the refusal (``range``, ``zone``, ``faulted``, ``interlock``,
    ``busy``, ``link``, ``active``, ``refused``) and the gateway maps it to an HTTP status."""

    kind: Literal["reply"] = "reply"
    id: int
    ok: bool
    code: str | None = None
    message: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class StateMessage(_Message):
    kind: Literal["state"] = "state"
    state: ExtruderState


class EventMessage(_Message):
    """Something the gateway must record: ``fault`` (latched), ``autotune_done``, ``autotune_aborted``."""

    kind: Literal["event"] = "event"
    event: Literal["fault", "autotune_done", "autotune_aborted"]
    zone: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


Message = Annotated[ReplyMessage | StateMessage | EventMessage, Field(discriminator="kind")]

_COMMANDS: TypeAdapter[Command] = TypeAdapter(Command)
_MESSAGES: TypeAdapter[Message] = TypeAdapter(Message)


def encode(message: BaseModel) -> bytes:
    """One line on the wire."""
    return message.model_dump_json().encode() + b"\n"


def decode_command(line: bytes) -> Configure | RequestCommand:
    try:
        return _COMMANDS.validate_json(line)
    except ValidationError as exc:
        raise IpcError(f"bad command: {exc.errors(include_url=False, include_input=False)[:1]}") from None


def decode_message(line: bytes) -> ReplyMessage | StateMessage | EventMessage:
    try:
        return _MESSAGES.validate_json(line)
    except ValidationError as exc:
        raise IpcError(f"bad message: {exc.errors(include_url=False, include_input=False)[:1]}") from None


async def read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next line, or None at EOF. Raises :class:`IpcError` for a line over the limit."""
    try:
        line = await reader.readline()
    except (asyncio.LimitOverrunError, ValueError):
        raise IpcError(f"IPC line longer than {IPC_LINE_MAX_BYTES} bytes") from None
    except ConnectionError:
        return None
    if not line:
        return None
    return line
