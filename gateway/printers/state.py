"""One printer's live state: merged report, link status, counters and recent commands (pure, clocked).

The driver feeds raw MQTT payloads in; malformed ones are counted by reason and dropped. Replies to
commands (a section with `result`) update the command's record instead of the printer state.
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


class LinkState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # connected or not, no report for too long / connection lost; retrying
    AUTH_FAILED = "auth_failed"  # wrong access code: not retried
    TLS_REFUSED = "tls_refused"  # certificate does not match: not retried
    NOT_CONFIGURED = "not_configured"  # no access code, or no trust anchor: not started


STOPPED_STATES = frozenset({LinkState.AUTH_FAILED, LinkState.TLS_REFUSED, LinkState.NOT_CONFIGURED})


class DropReason(StrEnum):
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    STATE_RESET = "state_reset"  # not a dropped report: the merged state outgrew its bound and was reset


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
    last_ask_mono: float | None = None  # when a full report was last asked for (None: not connected)
    pending_pushall: str | None = None  # sequence id of the full report asked for and not yet received
    full_reports: int = 0
    reports: int = 0
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
        self.last_ask_mono = self.monotonic()
        self.set_link(LinkState.CONNECTING, "connected; waiting for the full report")

    def asked(self, sequence_id: str) -> None:
        """A full report (pushall) was just requested with this sequence id."""
        self.pending_pushall = sequence_id
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
        self.reports += 1
        if self.pending_pushall is not None and self._answers_pushall(message):
            self.pending_pushall = None
            self.full_reports += 1
        if not self._take_replies(message):
            self.merged = merge_report(self.merged, message)
            if self.reports % const.STATE_SIZE_CHECK_EVERY == 0 and self._state_too_large():
                self.merged = merge_report({}, message)  # keys piling up: start again from this report
                self.dropped[DropReason.STATE_RESET] += 1
            self.reading = normalise(self.merged)
            self.updated_at = self.clock()
        if self.link is not LinkState.ONLINE:
            self.set_link(LinkState.ONLINE, "reporting")
        return True

    def _answers_pushall(self, message: dict[str, Any]) -> bool:
        """The full report asked for: our sequence id, and not a delta push (`msg: 1`), whose ids come
        from the printer's own counter and may equal ours by chance."""
        body = message.get("print")
        return (isinstance(body, dict) and str(body.get("sequence_id")) == self.pending_pushall
                and body.get("msg") != const.DELTA_REPORT_MSG)

    def _state_too_large(self) -> bool:
        return len(json.dumps(self.merged, separators=(",", ":"))) > const.MAX_STATE_BYTES

    def _drop(self, reason: DropReason) -> bool:
        self.dropped[reason] += 1
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
            if record is not None and record.section == "pushing":
                self._answer(record, "success", None, None)  # the full report is pushall's answer
                only_replies = False
            elif record is not None and "result" in body and body.get("command") == record.printer_command:
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
        self.last_ask_mono = None
        self.pending_pushall = None
        self.set_link(link, message)

    def check(self) -> bool:
        """Time out commands; after a silence mark offline. True: ask for a full report now."""
        now = self.monotonic()
        for record in self.commands:
            if record.status is CommandStatus.SENT and self.clock() - record.sent_at > const.COMMAND_REPLY_TIMEOUT_S:
                record.status = CommandStatus.TIMEOUT
        if self.last_ask_mono is None:  # not connected
            return False
        if (self.pending_pushall is not None and self.link is not LinkState.OFFLINE
                and now - self.last_ask_mono >= const.PUSHALL_RETRY_S):
            return True  # the full report asked for did not come: ask again
        last_heard = max(self.last_ask_mono, self.last_report_mono or self.last_ask_mono)
        if now - last_heard < self.offline_after_s:
            return False
        if self.link is not LinkState.OFFLINE:
            self.set_link(LinkState.OFFLINE, f"no report for {self.offline_after_s:.0f} s; full report requested")
        return True
