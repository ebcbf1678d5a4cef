"""The fixed-rate control loop: each period, latest telemetry -> safety -> PIDs -> one OUT -> GPIO.

Runs inside the control process's event loop, on absolute deadlines (``FixedRateSchedule``). It waits
on the event loop until just before a deadline, then sleeps precisely to it (see
``PRECISE_WAKE_MARGIN_S``). A period never awaits I/O: the OUT frame (which is also the controller's
heartbeat) is sent by a task; a newer OUT cancels an older one still waiting for its reply, so a
retried old frame can never re-apply an output after a newer one.

Telemetry: a zone's output is recomputed only when a new ``TEL`` arrived since the last period;
otherwise the loop holds its last output (a lost frame on a noisy line is not news). The link decides
when silence means lost (its loss window); a zone is stale exactly then.

Faults: the supervisor latches them; a new fault clears the setpoints it concerns (all of them for a
severe one) and aborts autotunes, so a reset never turns a heater back on by itself. What the board
says on its own is latched the moment it arrives, through the link's listener, not at the next period:
``! BOOT`` (or a swapped board) latches ``controller_reset`` on every zone and clears every setpoint
and the motor; ``! FAULT`` latches ``controller_fault`` (also when it is not understood).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from firmware_bridge.errors import LinkError
from firmware_bridge.events import LinkEvent
from firmware_bridge.link import SerialLink
from firmware_bridge.messages import ControllerReplaced, LinkState, LinkStateChange
from firmware_bridge.telemetry import BootEvent, Fault, FaultEvent, Telemetry
from gateway.control.autotune import AutotuneStatus, RelayAutotune
from gateway.control.gpio import GpioPanel
from gateway.control.io_const import HOLDING_TOLERANCE_C, PRECISE_WAKE_MARGIN_S, TIMING_REFRESH_S
from gateway.control.pid import PidGains, ZonePid
from gateway.control.safety import (
    FaultCode,
    LatchedFault,
    Reading,
    SafetySupervisor,
    Severity,
    SupervisorInput,
    Verdict,
    ZoneInput,
    ZoneState,
)
from gateway.control.settings import ExtruderSection
from gateway.control.state import LightColour
from gateway.control.timing import FixedRateSchedule, LoopStats

log = logging.getLogger(__name__)

PERMILLE = 1000
DETAIL_MAX_CHARS = 200
"""A fault's detail (for a person) is cut to this length."""
EventSink = Callable[[str, "int | None", dict[str, object]], None]
"""``(event, zone, details)``: a fault latched, an autotune finished or aborted."""


class ControlLoop:
    """Owns the regulation state of every zone; the process shell feeds it commands."""

    def __init__(
        self,
        settings: ExtruderSection,
        link: SerialLink,
        gpio: GpioPanel,
        *,
        gains: Mapping[int, PidGains] | None = None,
        on_period: Callable[[float], None] | None = None,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.link = link
        self.gpio = gpio
        self.clock = clock
        self.zones = len(settings.zones)
        self.pids = [ZonePid(z.pid_settings()) for z in settings.zones]
        for zone, zone_gains in (gains or {}).items():
            if 0 <= zone < self.zones:
                self.pids[zone].set_gains(zone_gains)
        self.supervisor = SafetySupervisor([z.safety_rules() for z in settings.zones], settings.stale_after_s)
        self.verdict: Verdict = self.supervisor.current()
        self.setpoints: list[float | None] = [None] * self.zones
        self.autotunes: list[RelayAutotune | None] = [None] * self.zones
        self.autotunes_finished: list[RelayAutotune | None] = [None] * self.zones
        """Each zone's last finished autotune (shown with its outcome until the next one starts)."""
        self.outputs = [0.0] * self.zones
        self.readings: list[Reading] = [None] * self.zones
        self.sample_at: list[float | None] = [None] * self.zones
        self.controller_fault = Fault.NONE.value
        self.motor_rpm = 0.0
        """Screw speed commanded to the controller."""
        self.stats = LoopStats()
        self.timing = self.stats.snapshot()
        """Timing figures, recomputed every ``TIMING_REFRESH_S`` (the percentiles sort the window)."""
        self._timing_due = 0.0
        self.alive = False
        self.out_errors = 0
        """OUT frames that got no OK (rejected or link lost)."""
        self._on_period = on_period
        self._on_event = on_event
        self._out_task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._last_tel: Telemetry | None = None
        link.add_listener(self._on_link_event)

    # --- the runner ------------------------------------------------------------------------
    async def run(self) -> None:
        """Run periods until cancelled. Whatever ends it, heaters are commanded off and the interlock opens."""
        period = self.settings.period_s
        schedule = FixedRateSchedule(period, self.clock())
        self.alive = True
        try:
            while True:
                deadline = schedule.deadline_s
                await self._sleep_until(deadline)
                woke = self.clock()
                self.step(woke)
                done = self.clock()
                missed = schedule.advance(done)
                self.stats.record(deadline, woke, done, missed, period)
                if done >= self._timing_due:
                    self.timing = self.stats.snapshot()
                    self._timing_due = done + TIMING_REFRESH_S
                if self._on_period is not None:
                    self._on_period(woke)
                self._wake_waiters()
        finally:
            self.alive = False
            self.safe_off("control loop stopped")

    async def _sleep_until(self, deadline: float) -> None:
        coarse = deadline - PRECISE_WAKE_MARGIN_S - self.clock()
        if coarse > 0:
            await asyncio.sleep(coarse)
        rest = deadline - self.clock()
        if rest > 0:
            time.sleep(rest)  # at most the margin: a precise wake-up, not an event-loop stall

    async def next_period(self) -> None:
        """Wait until the next period's work is done."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        await future

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    # --- one period ------------------------------------------------------------------------
    def step(self, now: float) -> None:
        """One control period (synchronous: no awaiting)."""
        state = self.link.state
        link_up = state is LinkState.UP
        tel = self.link.telemetry if link_up else None
        fresh = tel is not None and tel is not self._last_tel
        if tel is not None and fresh:
            self._last_tel = tel
            for zone in range(self.zones):
                self.readings[zone] = tel.temps_c[zone]
                self.sample_at[zone] = tel.received_at
            self.controller_fault = tel.fault.value
        inputs = [
            ZoneInput(self.readings[z], self.sample_at[z], self.target(z),
                      None if self.autotunes[z] is not None else self.pids[z].effective_setpoint_c)
            for z in range(self.zones)
        ]
        link_lost = state in (LinkState.LOST, LinkState.DISCONNECTED)
        verdict = self.supervisor.step(
            SupervisorInput(inputs, link_up, self.controller_fault, self.gpio.estop_pressed, link_lost), now
        )
        self.verdict = verdict
        if verdict.new_faults:
            self._faults_latched(verdict.new_faults)
        for zone in range(self.zones):
            self.outputs[zone] = self._zone_output(zone, verdict.heater_allowed[zone], now, fresh)
        if self.motor_rpm > 0 and not self.motor_may_run(verdict):
            self.command_motor(0.0)
        if link_up:
            self._send_out()
        self._drive_gpio(verdict)

    def target(self, zone: int) -> float | None:
        """What the zone regulates to: the autotune target while tuning, else its setpoint."""
        tune = self.autotunes[zone]
        if tune is not None:
            return tune.settings.target_c
        return self.setpoints[zone]

    def _zone_output(self, zone: int, allowed: bool, now: float, fresh: bool) -> float:
        """This period's output of ``zone``; held (last period's) when no new temperature arrived."""
        reading = self.readings[zone]
        temp = reading if isinstance(reading, float) else None
        tune = self.autotunes[zone]
        if tune is not None:
            if not allowed or temp is None:
                tune.abort("heater not allowed (fault or no valid reading)")
                output = 0.0
            elif not fresh:
                return self.outputs[zone]
            else:
                output = tune.step(now, temp)
            if tune.status is not AutotuneStatus.RUNNING:
                self._autotune_finished(zone, tune)
            return output
        if not allowed or temp is None or self.setpoints[zone] is None:
            self.pids[zone].reset()
            return 0.0
        if not fresh:
            return self.outputs[zone]
        return self.pids[zone].update(self.setpoints[zone], temp, now)

    def _autotune_finished(self, zone: int, tune: RelayAutotune) -> None:
        self.autotunes[zone] = None
        self.autotunes_finished[zone] = tune
        self.setpoints[zone] = None
        self.pids[zone].reset()
        if tune.status is AutotuneStatus.DONE and tune.result is not None:
            gains = tune.result.recommended
            self.pids[zone].set_gains(gains)
            r = tune.result
            self._emit("autotune_done", zone, {
                "target_c": tune.settings.target_c, "ku": r.ku, "tu_s": r.tu_s, "amplitude_c": r.amplitude_c,
                "cycles": r.cycles, "kp": gains.kp, "ki": gains.ki, "kd": gains.kd,
            })
        else:
            self._emit("autotune_aborted", zone, {"target_c": tune.settings.target_c,
                                                  "reason": tune.abort_reason or "aborted"})

    def _faults_latched(self, faults: tuple[LatchedFault, ...]) -> None:
        severe = any(f.severity is Severity.SEVERE for f in faults)
        zones = range(self.zones) if severe else sorted({f.zone for f in faults if f.zone is not None})
        for zone in zones:
            self.setpoints[zone] = None
            tune = self.autotunes[zone]
            if tune is not None:
                tune.abort("fault latched")
        for fault in faults:
            log.warning("fault latched: %s zone=%s (%s)", fault.code, fault.zone, fault.detail)
            self._emit("fault", fault.zone, {"code": fault.code.value, "severity": fault.severity.value,
                                              "detail": fault.detail})

    def motor_may_run(self, verdict: Verdict) -> bool:
        """Cold-extrusion interlock: no fault and every zone holding at its setpoint."""
        return verdict.motor_allowed and all(self._holding_at_setpoint(z, s) for z, s in enumerate(verdict.zone_states))

    def _holding_at_setpoint(self, zone: int, state: ZoneState) -> bool:
        setpoint, reading = self.setpoints[zone], self.readings[zone]
        return (state is ZoneState.HOLDING and setpoint is not None and isinstance(reading, float)
                and abs(reading - setpoint) <= HOLDING_TOLERANCE_C)

    def apply_verdict(self) -> None:
        """Take the supervisor's verdict now (after a reset) instead of at the next period: the
        interlock and the light follow at once, so the state published next agrees with it."""
        self.verdict = self.supervisor.current()
        self._drive_gpio(self.verdict)

    def _drive_gpio(self, verdict: Verdict) -> None:
        self.gpio.set_interlock(verdict.interlock_on and self.alive)
        light: LightColour
        if verdict.faults:
            light = "red"
        elif any(state is ZoneState.HEATING for state in verdict.zone_states):
            light = "amber"
        else:
            light = "green"
        self.gpio.set_light(light)

    # --- actions that do not wait for the next period --------------------------------------
    def emergency_stop(self, source: str) -> LatchedFault:
        """Latch ``estop``: every heater and the motor off now, the controller told to stop, interlock open."""
        self._latch_now([(FaultCode.ESTOP, None, f"e-stop: {source}"[:DETAIL_MAX_CHARS])])
        if self.link.state is LinkState.UP:
            self._side_task("ESTOP", {})
        return next(f for f in self.supervisor.faults if f.code is FaultCode.ESTOP)

    def _on_link_event(self, event: LinkEvent) -> None:
        """What the board says on its own, latched as it arrives (called by the link, synchronously)."""
        if isinstance(event, BootEvent):
            if self.link.hello is None:
                return  # a board announcing its start before we ever spoke to it: nothing was running
            self._controller_reset(f"controller restarted (BOOT fw={event.fw}); set the zones again after a reset")
        elif isinstance(event, ControllerReplaced):
            self._controller_reset(f"controller board swapped (id {event.old_id} -> {event.new_id}); "
                                   "set the zones again after a reset")
        elif isinstance(event, LinkStateChange) and event.new is LinkState.LOST:
            self._latch_now([(FaultCode.LINK_LOST, None, f"link to the controller lost: {event.reason}"[:DETAIL_MAX_CHARS])])
        elif isinstance(event, FaultEvent):
            if event.problem is None and event.code is not None:
                where = "the whole board" if event.zone is None else f"zone {event.zone}"
                detail = f"controller reports {event.code.value} on {where}"
            else:
                detail = (f"controller sent a fault event the gateway does not understand "
                          f"(code={event.raw_code or '?'} zone={event.raw_zone or '?'}: {event.problem})")
            zone = event.zone if event.zone is not None and event.zone < self.zones else None
            self._latch_now([(FaultCode.CONTROLLER_FAULT, zone, detail[:DETAIL_MAX_CHARS])], cause=event.raw_code)

    def _controller_reset(self, detail: str) -> None:
        self._latch_now([(FaultCode.CONTROLLER_RESET, zone, detail[:DETAIL_MAX_CHARS]) for zone in range(self.zones)])

    def _latch_now(self, faults: list[tuple[FaultCode, int | None, str]], cause: str = "") -> None:
        """Latch severe ``faults`` between periods: every output and the motor to 0 at once (the board
        told so when the link is up), setpoints cleared, interlock open."""
        now = self.clock()
        new = [f for code, zone, detail in faults
               if (f := self.supervisor.trip(code, now, zone, detail, cause)) is not None]
        self.verdict = self.supervisor.current()
        if new:
            self._faults_latched(tuple(new))
        self.outputs = [0.0] * self.zones
        for pid in self.pids:
            pid.reset()
        if self.link.state is LinkState.UP:
            self._send_out()
        self.motor_rpm = 0.0
        self._drive_gpio(self.verdict)

    def command_motor(self, rpm: float) -> None:
        """Send ``MOTOR`` in the background (used to stop it; starting it is awaited by the command)."""
        self.motor_rpm = rpm
        if self.link.state is LinkState.UP:
            self._side_task("MOTOR", {"rpm": round(rpm, 2)})

    def safe_off(self, reason: str) -> None:
        """Outputs to 0 (best effort, when the link is up) and the interlock open."""
        self.outputs = [0.0] * self.zones
        self.setpoints = [None] * self.zones
        self.motor_rpm = 0.0
        self.gpio.safe()
        if self.link.state is LinkState.UP:
            with contextlib.suppress(RuntimeError):  # no running loop any more: the link's stop() zeroes
                self._send_out()
        log.info("heaters off: %s", reason)

    def _send_out(self) -> None:
        if self._out_task is not None and not self._out_task.done():
            self._out_task.cancel()
        fields = {f"d{z}": round(min(max(out, 0.0), 1.0) * PERMILLE) for z, out in enumerate(self.outputs)}
        self._out_task = asyncio.get_running_loop().create_task(self._request("OUT", fields))

    def _side_task(self, verb: str, fields: dict[str, str | int | float]) -> None:
        task = asyncio.get_running_loop().create_task(self._request(verb, fields))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _request(self, verb: str, fields: dict[str, str | int | float]) -> None:
        try:
            await self.link.request(verb, **fields)
        except LinkError as exc:
            self.out_errors += 1
            log.debug("%s not acknowledged: %s", verb, exc)

    def _emit(self, event: str, zone: int | None, details: dict[str, object]) -> None:
        if self._on_event is not None:
            self._on_event(event, zone, details)
