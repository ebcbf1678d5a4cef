"""One printer's live state: merged report, link status, counters and recent commands (pure, clocked).

The driver feeds raw MQTT payloads in; malformed ones are counted by reason and dropped. Replies to
commands (a section with `result` and our `sequence_id`) update the command's record instead of the
printer state.

A full report is a `push_status` whose `msg` is 0, whatever its `sequence_id`: printers number their own
pushes and never echo the id of our `pushall`. The gateway asks for one when it connects, and again only
after a silence (no report at all for `PUSHALL_AFTER_SILENCE_S`, doubling while the silence lasts), or,
rarely, when deltas come but the full report asked for never did (`PUSHALL_UNANSWERED_S`, doubling).
Silence is measured from the last report received (or the connection), never from our own requests, so
asking does not keep a silent printer "online".
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.printers import const
from gateway.printers.merge import merge_report
from gateway.printers.normalize import PrinterReading, as_int, as_text, normalise
from gateway.printers.report_check import check_report, count_keys, has_list, key_growth


class LinkState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # connected or not, no report for too long / connection lost; retrying
    AUTH_FAILED = "auth_failed"  # wrong access code: not retried
    TLS_REFUSED = "tls_refused"  # certificate does not match: not retried
    NOT_CONFIGURED = "not_configured"  # no access code, or no trust anchor: not started


LINK_WORDS = {
    LinkState.CONNECTING: "connecting",
    LinkState.ONLINE: "reporting",
    LinkState.OFFLINE: "switched off or unreachable",
    LinkState.AUTH_FAILED: "wrong access code",
    LinkState.TLS_REFUSED: "printer certificate refused",
    LinkState.NOT_CONFIGURED: "not configured",
}
STOPPED_STATES = frozenset({LinkState.AUTH_FAILED, LinkState.TLS_REFUSED, LinkState.NOT_CONFIGURED})


def is_full_report(message: dict[str, Any]) -> bool:
    """A printer's full report: `print.command == "push_status"` with `msg == 0` (any sequence id)."""
    body = message.get("print")
    return (isinstance(body, dict) and body.get("command") == "push_status"
            and body.get("msg") == const.FULL_REPORT_MSG and not isinstance(body.get("msg"), bool))


class DropReason(StrEnum):
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    STATE_FULL = "state_full"  # the report would take the merged state past MAX_STATE_KEYS
    WRONG_TYPE = "wrong_type"  # a field the gateway reads, of another type (the field is dropped, not the report)
    OVERSIZED = "oversized"  # a key, string or list above its limit (dropped, not the report)


class CommandStatus(StrEnum):
    SENT = "sent"
    OK = "ok"
    FAILED = "failed"
    VERIFICATION_FAILED = "verification_failed"
    TIMEOUT = "timeout"


@dataclass
class CommandRecord:
    sequence_id: str
    command: str
    section: str
    printer_command: str
    sent_at: float
    applied: dict[str, Any]
    status: CommandStatus = CommandStatus.SENT
    result: str | None = None
    err_code: int | None = None
    reason: str | None = None
    answered_at: float | None = None


@dataclass
class PrinterState:
    serial: str
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    offline_after_s: float = const.OFFLINE_AFTER_S
    merged: dict[str, Any] = field(default_factory=dict)
    reading: PrinterReading = field(default_factory=PrinterReading)
    link: LinkState = LinkState.CONNECTING
    link_message: str = "not connected yet"
    updated_at: float | None = None
    last_report_mono: float | None = None
    connected_mono: float | None = None  # when the current connection was made (None: not connected)
    last_ask_mono: float | None = None  # when a full report was last asked for
    awaiting_full_report: bool = False  # a full report was asked for and none has arrived since
    pushalls_sent: int = 0
    silence_asks: int = 0  # full reports asked for in the current silence (the back-off doubles per ask)
    next_silence_ask_mono: float | None = None  # no new ask in this silence before then
    unanswered_asks: int = 0  # full reports asked again because the one asked for never came
    full_reports: int = 0
    reports: int = 0
    state_keys: int = 0  # keys (all levels) in `merged`
    last_drop: DropReason | None = None  # why the last dropped report was dropped
    dropped: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    commands: deque[CommandRecord] = field(default_factory=lambda: deque(maxlen=const.RECENT_COMMANDS_KEPT))

    @property
    def online(self) -> bool:
        return self.link is LinkState.ONLINE

    def set_link(self, link: LinkState, message: str) -> None:
        self.link = link
        self.link_message = message

    def connected(self) -> None:
        """A new connection: the state is stale until the full report asked for arrives."""
        self.connects += 1
        self.last_report_mono = None
        self.connected_mono = self.monotonic()
        self.silence_asks, self.next_silence_ask_mono, self.unanswered_asks = 0, None, 0
        self.set_link(LinkState.CONNECTING, "connected; waiting for the full report")

    def asked(self) -> None:
        """A full report (pushall) was just requested."""
        self.awaiting_full_report = True
        self.pushalls_sent += 1
        self.last_ask_mono = self.monotonic()

    def feed(self, payload: bytes) -> bool:
        """Apply one raw report; False (and counted) when it was dropped."""
        if len(payload) > const.MAX_REPORT_BYTES:
            return self._drop(DropReason.TOO_LARGE)
        try:
            message = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return self._drop(DropReason.NOT_JSON)
        if not isinstance(message, dict):
            return self._drop(DropReason.NOT_OBJECT)
        self.last_report_mono = self.monotonic()
        self.silence_asks, self.next_silence_ask_mono = 0, None
        self.reports += 1
        if is_full_report(message):
            self.awaiting_full_report, self.unanswered_asks = False, 0
            self.full_reports += 1
            self._full_report_answers_pushall()
        if self.link is not LinkState.ONLINE:
            self.set_link(LinkState.ONLINE, "reporting")  # it spoke, whatever we make of what it said
        return self._take_replies(message) or self._merge(message)

    def _full_report_answers_pushall(self) -> None:
        """A `pushall` sent as a command is answered by the next full report (it carries no id of ours)."""
        for record in self.commands:
            if record.status is CommandStatus.SENT and record.section == "pushing":
                self._answer(record, "success", None, None)

    def _merge(self, message: dict[str, Any]) -> bool:
        """Merge a report within the bounds (see `report_check`); False when it was dropped."""
        checked = check_report(message)
        for reason, count in ((DropReason.WRONG_TYPE, checked.wrong_type), (DropReason.OVERSIZED, checked.oversized)):
            if count:
                self.dropped[reason] += count
        merged = merge_report(self.merged, checked.report)
        # Lists may merge item by item (AMS trays): then count exactly; otherwise walk the report only.
        keys = count_keys(merged) if has_list(checked.report) else self.state_keys + key_growth(self.merged, checked.report)
        if keys > const.MAX_STATE_KEYS:
            return self._drop(DropReason.STATE_FULL)
        self.merged, self.state_keys = merged, keys
        self.reading = normalise(self.merged)
        self.updated_at = self.clock()
        return True

    def _drop(self, reason: DropReason) -> bool:
        self.dropped[reason] += 1
        self.last_drop = reason
        return False

    def _take_replies(self, message: dict[str, Any]) -> bool:
        """Record command replies in the message; True when the message was only replies."""
        only_replies = True
        for section, body in message.items():
            if not isinstance(body, dict):
                only_replies = False
                continue
            sequence_id = body.get("sequence_id")
            record = self._pending(str(sequence_id)) if sequence_id is not None else None
            if record is not None and "result" in body and body.get("command") == record.printer_command:
                self._answer(record, as_text(body.get("result"), 32), as_int(body.get("err_code")),
                             as_text(body.get("reason"), 200))
            else:
                only_replies = False
        return only_replies

    def _pending(self, sequence_id: str) -> CommandRecord | None:
        for record in reversed(self.commands):
            if record.sequence_id == sequence_id and record.status is CommandStatus.SENT:
                return record
        return None

    def _answer(self, record: CommandRecord, result: str | None, err_code: int | None, reason: str | None) -> None:
        record.result, record.err_code, record.reason = result, err_code, reason
        record.answered_at = self.clock()
        if err_code == const.VERIFICATION_FAILED_ERR_CODE or (reason or "").lower() == const.VERIFICATION_FAILED_REASON:
            record.status = CommandStatus.VERIFICATION_FAILED
            record.reason = "command verification failed: this firmware only accepts authorised commands"
        elif (result or "").lower() == "success" and not err_code:
            record.status = CommandStatus.OK
        else:
            record.status = CommandStatus.FAILED

    def sent(self, record: CommandRecord) -> None:
        self.commands.append(record)

    def disconnected(self, link: LinkState, message: str) -> None:
        self.connected_mono = None
        self.awaiting_full_report = False
        self.set_link(link, message)

    def _full_report_overdue(self, now: float) -> bool:
        """Deltas keep coming but the full report asked for never did (our pushall was lost): ask again,
        rarely (a full report is heavy for a printer), doubling up to the cap."""
        if not self.awaiting_full_report or self.last_ask_mono is None:
            return False
        wait = min(const.PUSHALL_UNANSWERED_S * 2 ** self.unanswered_asks, const.PUSHALL_BACKOFF_MAX_S)
        if now - self.last_ask_mono < wait:
            return False
        self.unanswered_asks += 1
        return True

    @property
    def silent_for_s(self) -> float | None:
        """Seconds since the last report (or the connection, before the first); None when not connected."""
        if self.connected_mono is None:
            return None
        return self.monotonic() - (self.last_report_mono or self.connected_mono)

    @property
    def data_age_s(self) -> float | None:
        """Seconds since the state was last updated by a report; None before the first one."""
        return None if self.updated_at is None else max(self.clock() - self.updated_at, 0.0)

    @property
    def reason(self) -> str:
        """The link state in plain words, for the page and status."""
        return LINK_WORDS[self.link]

    @property
    def problem(self) -> str | None:
        """Why this printer does not work now (link stopped, or offline: switched off or unreachable), else
        None. The part, and the gateway, are degraded meanwhile."""
        if self.link in STOPPED_STATES or self.link is LinkState.OFFLINE:
            return f"{self.reason}: {self.link_message}"
        return None

    def check(self) -> bool:
        """Time out commands; after a silence mark offline. True: ask for a full report now."""
        for record in self.commands:
            if record.status is CommandStatus.SENT and self.clock() - record.sent_at > const.COMMAND_REPLY_TIMEOUT_S:
                record.status = CommandStatus.TIMEOUT
        silent = self.silent_for_s
        if silent is None:  # not connected
            return False
        if silent >= self.offline_after_s and self.link is not LinkState.OFFLINE:
            self.set_link(LinkState.OFFLINE, f"no report for over {self.offline_after_s:.0f} s "
                                             "(switched off, asleep or unreachable)")
        now = self.monotonic()
        if silent < const.PUSHALL_AFTER_SILENCE_S:
            return self._full_report_overdue(now)
        if self.next_silence_ask_mono is not None and now < self.next_silence_ask_mono:
            return False
        self.silence_asks += 1
        wait = min(const.PUSHALL_AFTER_SILENCE_S * 2 ** self.silence_asks, const.PUSHALL_BACKOFF_MAX_S)
        self.next_silence_ask_mono = now + wait
        return True
