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


def test_wrong_types_of_read_fields_are_dropped_and_counted_the_last_good_value_stays() -> None:
    state = make_state(Clock())
    assert state.feed(encode({"print": {"gcode_state": "RUNNING", "nozzle_temper": 215.5, "hms": []}}))
    assert state.feed(encode({"print": {"gcode_state": 12, "nozzle_temper": "hot", "hms": "many",
                                        "print_error": True, "mc_percent": 40}}))
    assert state.reading.gcode_state == "RUNNING" and state.reading.progress == 40.0
    assert state.dropped["wrong_type"] == 3, "gcode_state, hms, print_error (a numeric string is a number)"
    assert state.reading.nozzle_c is None, "'hot' is text where a number is read: normalised to unknown"


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


def full_report(sequence_id: str, **fields: object) -> bytes:
    """A printer's full report: `push_status`, `msg` 0 and the printer's own sequence id."""
    return encode({"print": {"command": "push_status", "msg": 0, "sequence_id": sequence_id, **fields}})


def delta(sequence_id: str, **fields: object) -> bytes:
    return encode({"print": {"command": "push_status", "msg": 1, "sequence_id": sequence_id, **fields}})


def test_pushall_is_answered_by_the_next_full_report_whatever_its_id() -> None:
    clock = Clock()
    state = make_state(clock)
    state.sent(record("100000009", "pushall", "pushing", "pushall", clock.now))
    state.feed(delta("41", mc_percent=49))
    assert state.commands[0].status is CommandStatus.SENT, "a delta is not the full report"
    state.feed(full_report("42", mc_percent=50))  # the printer's own counter, never our id
    assert state.commands[0].status is CommandStatus.OK and state.reading.progress == 50.0
    assert state.full_reports == 1


def test_unanswered_commands_time_out() -> None:
    clock = Clock()
    state = make_state(clock)
    state.sent(record("1", "pause", "print", "pause", clock.now))
    clock.now += const.COMMAND_REPLY_TIMEOUT_S + 1
    state.check()
    assert state.commands[0].status is CommandStatus.TIMEOUT


def test_silence_marks_offline_after_the_limit_whatever_we_ask() -> None:
    clock = Clock()
    state = make_state(clock, offline_after_s=60)
    state.asked()
    assert state.link is LinkState.CONNECTING and not state.check()
    state.feed(full_report("1"))
    assert state.online and not state.awaiting_full_report
    asks = 0
    for _ in range(59):
        clock.now += 1
        if state.check():
            state.asked()  # our own requests never count as hearing from the printer
            asks += 1
    assert state.online
    clock.now += 1
    state.check()
    assert state.link is LinkState.OFFLINE and "no report for over 60 s" in state.link_message
    assert state.problem is not None and "switched off or unreachable" in state.problem
    assert asks == 2, "asked after 10 s of silence, then 20 s later (back-off)"
    state.feed(delta("2"))
    assert state.online


def test_full_report_is_asked_again_only_after_a_silence_with_back_off() -> None:
    clock = Clock()
    state = make_state(clock, offline_after_s=600)
    state.asked()  # on connect
    asked_at: list[float] = []
    for _ in range(400):  # a printer that answers nothing at all
        clock.now += 1
        if state.check():
            state.asked()
            asked_at.append(clock.now - 1000)
    assert asked_at == [10, 30, 70, 150, 310], asked_at
    state.feed(delta("5", mc_percent=1))
    assert state.awaiting_full_report, "a delta is not the full report"
    asked_at.clear()
    for _ in range(400):  # deltas keep coming: no silence; the lost full report is asked for rarely
        clock.now += 1
        state.feed(delta("6"))
        if state.check():
            state.asked()
            asked_at.append(clock.now - 1000)
    assert asked_at == [401, 521, 761], asked_at  # 60 s and more since the last ask, then 120 s, then 240 s
    state.feed(full_report("7"))
    clock.now += 1000
    state.feed(delta("8"))
    assert not state.check() and not state.awaiting_full_report


def test_not_connected_never_asks() -> None:
    clock = Clock()
    state = make_state(clock)
    state.disconnected(LinkState.AUTH_FAILED, "refused")
    clock.now += 1000
    assert not state.check() and state.link is LinkState.AUTH_FAILED


def test_the_merged_state_is_bounded_and_reports_past_it_are_dropped_and_counted() -> None:
    state = make_state(Clock())
    assert state.feed(encode({"print": {"mc_percent": 7}}))
    for index in range(1000):  # unique keys, each report adding 10
        state.feed(encode({"print": {f"k{index}_{n}": "x" * const.MAX_VALUE_CHARS for n in range(10)}}))
    assert state.state_keys <= const.MAX_STATE_KEYS
    assert state.dropped["state_full"] >= 1000 - const.MAX_STATE_KEYS // 10
    assert len(json.dumps(state.merged)) < const.MAX_STATE_KEYS * (const.MAX_KEY_CHARS + const.MAX_VALUE_CHARS)
    assert state.feed(encode({"print": {"mc_percent": 8}})), "known keys still update"
    assert state.reading.progress == 8.0 and state.online


def test_oversized_keys_values_and_lists_are_dropped_and_counted() -> None:
    state = make_state(Clock())
    assert state.feed(encode({"print": {"k" * (const.MAX_KEY_CHARS + 1): 1, "note": "x" * (const.MAX_VALUE_CHARS + 1),
                                        "hms": [{"attr": 1, "code": 2}] * (const.MAX_LIST_ITEMS + 1),
                                        "mc_percent": 3}}))
    assert state.dropped["oversized"] == 3 and state.merged == {"print": {"mc_percent": 3}}


def test_a_delta_push_is_never_the_full_report_even_with_our_sequence_id() -> None:
    state = make_state(Clock())
    state.asked()
    state.feed(encode({"print": {"command": "push_status", "msg": 1, "sequence_id": "7", "mc_percent": 3}}))
    state.feed(encode({"print": {"command": "push_status", "sequence_id": "7", "mc_percent": 3}}))
    state.feed(encode({"print": {"command": "push_status", "msg": False, "mc_percent": 3}}))
    assert state.full_reports == 0 and state.awaiting_full_report
    state.feed(full_report("8", mc_percent=4))
    assert state.full_reports == 1 and not state.awaiting_full_report
