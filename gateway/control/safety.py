"""Safety supervisor of the heater zones. Pure: time only enters through ``now_s``.

Each control period the supervisor gets the zone readings, setpoints, link state, the controller's
fault and the e-stop input, and answers with a :class:`Verdict`: which heaters may be on, whether the
motor may run and whether the heater-power interlock may be closed. Faults latch until
:meth:`SafetySupervisor.reset`, which clears only those whose cause is gone.

Zone faults turn that zone's heater off (and stop the motor: the melt is no longer under control);
severe faults turn every heater and the motor off. The table :data:`SEVERITY` says which is which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.control.faults import SEVERITY, FaultCode, LatchedFault, Severity, ZoneState
from gateway.control.zone_guard import Reading, ZoneGuard, ZoneInput, ZoneSafetyRules, valid_temp

__all__ = [
    "SEVERITY",
    "FaultCode",
    "LatchedFault",
    "Reading",
    "ResetResult",
    "SafetySupervisor",
    "Severity",
    "SupervisorInput",
    "Verdict",
    "ZoneGuard",
    "ZoneInput",
    "ZoneSafetyRules",
    "ZoneState",
]

NO_CONTROLLER_FAULT = "none"


@dataclass(frozen=True, slots=True)
class SupervisorInput:
    zones: Sequence[ZoneInput]
    link_up: bool
    """The link is up: readings may be used and heaters may be on."""
    controller_fault: str = NO_CONTROLLER_FAULT
    """The controller's ``fault`` (``firmware_bridge.telemetry.Fault`` value)."""
    estop: bool = False
    """E-stop input active."""
    link_lost: bool | None = None
    """The link was declared lost (``link_lost`` latches); ``None``: whenever it is not up. A link that is
    re-handshaking after a controller reset is neither up nor lost (``controller_reset`` covers it)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What may be on this period."""

    heater_allowed: tuple[bool, ...]
    """Per zone. False: command 0 and reset that zone's PID."""
    motor_allowed: bool
    interlock_on: bool
    """The heater-power relay may be closed: no fault is latched."""
    zone_states: tuple[ZoneState, ...]
    faults: tuple[LatchedFault, ...]
    """Every latched fault, oldest first."""
    new_faults: tuple[LatchedFault, ...] = ()
    """Faults latched by this step."""

    def zone_fault(self, zone: int) -> LatchedFault | None:
        """The fault to show for ``zone``: its own first latched one, else the first severe one."""
        own = next((f for f in self.faults if f.zone == zone), None)
        return own or next((f for f in self.faults if f.severity is Severity.SEVERE), None)


@dataclass(frozen=True, slots=True)
class ResetResult:
    cleared: tuple[LatchedFault, ...]
    refused: tuple[tuple[LatchedFault, str], ...]
    """Faults still latched, each with the reason (its cause persists)."""


class SafetySupervisor:
    """Latches faults from the per-zone guards and the global inputs; decides what may be on."""

    def __init__(self, rules: Sequence[ZoneSafetyRules], stale_after_s: float) -> None:
        """``stale_after_s``: a zone's temperature is stale after this long without a fresh sample (the
        link's loss window, so a zone goes stale exactly when the link is lost)."""
        if not rules:
            raise ValueError("at least one zone")
        if not stale_after_s > 0:
            raise ValueError("stale_after_s must be > 0")
        self._guards = [ZoneGuard(r, stale_after_s) for r in rules]
        self._latched: dict[tuple[FaultCode, int | None, str], LatchedFault] = {}
        self._link_was_up = False
        self._last: SupervisorInput | None = None
        self._last_now_s = 0.0
        self._allowed = tuple(False for _ in rules)

    @property
    def zones(self) -> int:
        return len(self._guards)

    @property
    def faults(self) -> tuple[LatchedFault, ...]:
        return tuple(self._latched.values())

    def trip(
        self, code: FaultCode, now_s: float, zone: int | None = None, detail: str = "", cause: str = ""
    ) -> LatchedFault | None:
        """Latch ``code`` from outside (API e-stop, a controller event...). Effective in :meth:`current`.

        Returns the new fault, or ``None`` when the same code was already latched for that zone and
        ``cause`` (the board's own fault code, for ``controller_fault``: each one is latched and reported).
        """
        if zone is not None and not 0 <= zone < self.zones:
            raise ValueError(f"no zone {zone}")
        return self._latch(code, zone, now_s, detail, cause)

    def _latch(
        self, code: FaultCode, zone: int | None, now_s: float, detail: str, cause: str = ""
    ) -> LatchedFault | None:
        key = (code, zone, cause)
        if key in self._latched:
            return None
        fault = LatchedFault(code, zone, now_s, detail)
        self._latched[key] = fault
        return fault

    def step(self, inp: SupervisorInput, now_s: float) -> Verdict:
        """Judge one period's input."""
        if len(inp.zones) != self.zones:
            raise ValueError(f"expected {self.zones} zones, got {len(inp.zones)}")
        new: list[LatchedFault | None] = []
        if inp.estop:
            new.append(self._latch(FaultCode.ESTOP, None, now_s, "e-stop input active"))
        lost = (not inp.link_up) if inp.link_lost is None else inp.link_lost
        if inp.link_up:
            self._link_was_up = True
        elif self._link_was_up and lost:
            new.append(self._latch(FaultCode.LINK_LOST, None, now_s, "link to the controller lost"))
        if str(inp.controller_fault) != NO_CONTROLLER_FAULT:
            new.append(self._latch(FaultCode.CONTROLLER_FAULT, None, now_s,
                                   f"controller reports {inp.controller_fault}", str(inp.controller_fault)))
        for zone, (guard, zin) in enumerate(zip(self._guards, inp.zones, strict=True)):
            for code, detail in guard.check(zin, now_s, self._allowed[zone]):
                new.append(self._latch(code, zone, now_s, detail))
        self._last = inp
        self._last_now_s = now_s
        verdict = self._verdict(tuple(f for f in new if f is not None))
        self._allowed = verdict.heater_allowed
        return verdict

    def current(self) -> Verdict:
        """The verdict for the last input with the faults latched now (after :meth:`trip`/:meth:`reset`)."""
        verdict = self._verdict(())
        self._allowed = tuple(a and b for a, b in zip(self._allowed, verdict.heater_allowed, strict=True))
        return verdict

    def _verdict(self, new: tuple[LatchedFault, ...]) -> Verdict:
        faults = self.faults
        severe = any(f.severity is Severity.SEVERE for f in faults)
        faulted_zones = {f.zone for f in faults if f.zone is not None}
        allowed: list[bool] = []
        states: list[ZoneState] = []
        for zone, guard in enumerate(self._guards):
            zin = self._last.zones[zone] if self._last is not None else None
            ready = (
                zin is not None
                and self._last is not None
                and self._last.link_up
                and valid_temp(zin.reading) is not None
                and guard.fresh(zin, self._last_now_s)
            )
            ok = not severe and zone not in faulted_zones
            allowed.append(ok and ready)
            if not ok:
                states.append(ZoneState.FAULT)
            elif zin is None or zin.setpoint_c is None:
                states.append(ZoneState.OFF)
            else:
                states.append(guard.phase if guard.phase is not ZoneState.OFF else ZoneState.HEATING)
        return Verdict(
            heater_allowed=tuple(allowed),
            motor_allowed=not faults and self._last is not None and self._last.link_up,
            interlock_on=not faults,
            zone_states=tuple(states),
            faults=faults,
            new_faults=new,
        )

    def reset(self, now_s: float) -> ResetResult:
        """Clear every latched fault whose cause is gone in the last input; say why others stay.

        A fault latched after the last period's input (between periods, from a controller event) was
        never judged against an input that shows it gone: it stays until a period has seen one.
        """
        cleared: list[LatchedFault] = []
        refused: list[tuple[LatchedFault, str]] = []
        for key, fault in list(self._latched.items()):
            reason = (self._persisting(fault, now_s) if fault.at_s <= self._last_now_s
                      else "latched after the last control period; reset again")
            if reason is None:
                del self._latched[key]
                cleared.append(fault)
                if fault.zone is not None:
                    self._guards[fault.zone].rearm()
            else:
                refused.append((fault, reason))
        if cleared:
            for guard in self._guards:
                guard.rearm()
        return ResetResult(tuple(cleared), tuple(refused))

    def _persisting(self, fault: LatchedFault, now_s: float) -> str | None:
        last = self._last
        if fault.code is FaultCode.ESTOP:
            return "e-stop input still active" if last is not None and last.estop else None
        if fault.code is FaultCode.LINK_LOST:
            return None if last is not None and last.link_up else "link still down"
        if fault.code is FaultCode.CONTROLLER_RESET:
            return None if last is not None and last.link_up else "controller not back yet"
        if fault.code is FaultCode.CONTROLLER_FAULT:
            if last is None or str(last.controller_fault) == NO_CONTROLLER_FAULT:
                return None
            return f"controller still reports {last.controller_fault} (clear it on the controller first)"
        assert fault.zone is not None
        zin = last.zones[fault.zone] if last is not None else None
        return self._guards[fault.zone].persisting(fault.code, zin, now_s)
