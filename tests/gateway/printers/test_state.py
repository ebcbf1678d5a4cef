"""A printer's state: malformed payloads counted and dropped, replies matched, silence -> offline."""

from __future__ import annotations

import json

from gateway.printers import const
from gateway.printers.state import CommandRecord, CommandStatus, LinkState, PrinterState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_state(clock: Clock, offline_after_s: float = 60.0) -> PrinterState:
    state = PrinterState("01S00C123456789", clock, clock, offline_after_s=offline_after_s)
    state.connected()
    return state


def encode(message: object) -> bytes:
    return json.dumps(message).encode()


def test_malformed_payloads_are_counted_and_dropped() -> None:
    clock = Clock()
    state = make_state(clock)
    assert state.feed(encode({"print": {"mc_percent": 5}}))
    for payload in (b"not json", b"\xff\xfe", encode([1, 2]), encode("text"), b"{" * 100_000,
                    b" " * (const.MAX_REPORT_BYTES + 1)):
        assert not state.feed(payload)
    assert dict(state.dropped) == {"not_json": 3, "not_object": 2, "too_large": 1}
    assert state.reading.progress == 5.0 and state.reports == 1


def test_wrong_types_are_merged_but_normalise_to_none() -> None:
    state = make_state(Clock())
    assert state.feed(encode({"print": {"nozzle_temper": "hot", "hms": "many"}}))
    assert state.reading.nozzle_c is None and state.reading.errors == []


def record(sequence_id: str, command: str, section: str, printer_command: str, at: float) -> CommandRecord:
    return CommandRecord(sequence_id, command, section, printer_command, at, {})


def test_replies_update_commands_not_state() -> None:
    clock = Clock()
    state = make_state(clock)
    state.feed(encode({"print": {"gcode_state": "RUNNING"}}))
    state.sent(record("5", "pause", "print", "pause", clock.now))
    state.sent(record("6", "light", "system", "ledctrl", clock.now))
    state.sent(record("7", "stop", "print", "stop", clock.now))
    state.feed(encode({"print": {"command": "pause", "sequence_id": "5", "result": "success", "reason": ""}}))
    state.feed(encode({"system": {"command": "ledctrl", "sequence_id": "6", "result": "failed", "err_code": 7}}))
    state.feed(encode({"print": {"command": "stop", "sequence_id": "7", "result": "failed",
                                 "reason": "mqtt message verify failed", "err_code": 84033543}}))
    statuses = {r.sequence_id: r.status for r in state.commands}
    assert statuses == {"5": CommandStatus.OK, "6": CommandStatus.FAILED, "7": CommandStatus.VERIFICATION_FAILED}
    assert "result" not in state.merged["print"] and state.merged["print"]["gcode_state"] == "RUNNING"
    assert "verification failed" in state.commands[2].reason


def test_pushall_is_answered_by_the_full_report() -> None:
    clock = Clock()
    state = make_state(clock)
    state.sent(record("9", "pushall", "pushing", "pushall", clock.now))
    state.feed(encode({"print": {"command": "push_status", "sequence_id": "9", "mc_percent": 50}}))
    assert state.commands[0].status is CommandStatus.OK and state.reading.progress == 50.0


def test_unanswered_commands_time_out() -> None:
    clock = Clock()
    state = make_state(clock)
    state.sent(record("1", "pause", "print", "pause", clock.now))
    clock.now += const.COMMAND_REPLY_TIMEOUT_S + 1
    state.check()
    assert state.commands[0].status is CommandStatus.TIMEOUT


def test_silence_marks_offline_and_asks_again_each_period() -> None:
    clock = Clock()
    state = make_state(clock, offline_after_s=60)
    assert state.link is LinkState.CONNECTING and not state.check()
    state.feed(encode({"print": {}}))
    assert state.online
    clock.now += 59
    assert not state.check() and state.online
    clock.now += 1
    assert state.check() and state.link is LinkState.OFFLINE
    state.asked("2")
    clock.now += const.PUSHALL_RETRY_S
    assert not state.check()  # offline: asked again only once per silence period
    clock.now += 60
    assert state.check()
    state.feed(encode({"print": {}}))
    assert state.online


def test_full_report_is_asked_again_until_it_comes() -> None:
    clock = Clock()
    state = make_state(clock)
    state.asked("1")
    state.feed(encode({"print": {"sequence_id": "77", "mc_percent": 1}}))  # a delta, not the answer
    assert state.online and state.full_reports == 0
    clock.now += const.PUSHALL_RETRY_S
    assert state.check()
    state.asked("2")
    assert not state.check()
    state.feed(encode({"print": {"sequence_id": "2", "mc_percent": 2}}))
    assert state.full_reports == 1 and state.pending_pushall is None
    clock.now += const.PUSHALL_RETRY_S
    assert not state.check()


def test_not_connected_never_asks() -> None:
    clock = Clock()
    state = make_state(clock)
    state.disconnected(LinkState.AUTH_FAILED, "refused")
    clock.now += 1000
    assert not state.check() and state.link is LinkState.AUTH_FAILED


def test_state_that_keeps_growing_is_reset() -> None:
    state = make_state(Clock())
    filler = "x" * 20_000
    for index in range(const.STATE_SIZE_CHECK_EVERY):
        assert state.feed(encode({"print": {f"key{index}": filler, "mc_percent": 7}}))
    assert state.dropped["state_reset"] == 1
    assert len(json.dumps(state.merged)) < const.MAX_STATE_BYTES and state.reading.progress == 7.0


def test_a_delta_push_is_not_taken_for_the_full_report_even_with_our_sequence_id() -> None:
    """Printers number their own pushes; one may carry the id our pushall used. Only a full report
    (msg 0, or none) answers it, so a refreshed state is never claimed on the strength of a delta."""
    state = make_state(Clock())
    state.asked("7")
    state.feed(encode({"print": {"command": "push_status", "msg": 1, "sequence_id": "7", "mc_percent": 3}}))
    assert state.full_reports == 0 and state.pending_pushall == "7"
    state.feed(encode({"print": {"command": "push_status", "msg": 0, "sequence_id": "7", "mc_percent": 4}}))
    assert state.full_reports == 1 and state.pending_pushall is None
