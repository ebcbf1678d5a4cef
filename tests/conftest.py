"""Shared fixtures: a real gateway on a free loopback port, and clients that talk to it over sockets.

Also a suite-wide guard against secrets leaking: every token the tests issue (through the gateway's
`TokenService`) and every printer access code or broker password they use is recorded, every log record
(root logger, DEBUG and up) and every HTTP response body and WebSocket message a test client receives is
checked for them, and a test during which one leaked fails at teardown. Token issuance
(`POST /api/v1/tokens`) is the one answer that carries a token by design.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the source tree first, and `tests.support` helpers

# The secret guard patches the Fernet helpers before any module binds them by name (see below).
import gateway.secrets.fernet as _fernet  # noqa: E402
from gateway.auth.tokens import TokenService  # noqa: E402


class SecretGuard:
    """Records secrets and finds them in text: tokens by their shape, codes by substring (cheap)."""

    TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")
    MIN_CODE_CHARS = 6  # shorter "secrets" would match by chance

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.fixed_codes: set[str] = set()  # module constants, valid for the whole run
        self.test_codes: set[str] = set()  # codes seen during the current test only
        self.leaks: list[str] = []
        self.orphans: list[str] = []  # leaks outside any test (session and module fixtures)

    def add_token(self, token: str) -> None:
        self.tokens.add(token)

    def add_code(self, code: Any) -> None:
        if isinstance(code, str) and len(code) >= self.MIN_CODE_CHARS:
            self.test_codes.add(code)

    def find(self, text: str) -> str | None:
        """The kind of secret `text` contains, or None."""
        if self.tokens:
            for match in self.TOKEN_SHAPE.finditer(text):
                found = match.group()
                if found in self.tokens or any(token in found for token in self.tokens if len(token) < len(found)):
                    return "an issued token"
        for code in (*self.fixed_codes, *self.test_codes):
            if code in text:
                return "an access code or password"
        return None

    def check(self, text: str, where: str) -> None:
        kind = self.find(text)
        if kind is not None:
            self.leaks.append(f"{kind} in {where}")

    def start_test(self) -> None:
        self.test_codes.clear()

    def take_leaks(self) -> list[str]:
        leaks, self.leaks = self.leaks, []
        return leaks


SECRET_GUARD = SecretGuard()
TOKEN_ISSUING_PATH = "/api/v1/tokens"


def _record_issued(issue: Any) -> Any:
    def recording_issue(self: TokenService, *args: Any, **kwargs: Any) -> Any:
        token, claims = issue(self, *args, **kwargs)
        SECRET_GUARD.add_token(token)
        return token, claims

    return recording_issue


def _record_plaintext(function: Any, *, result: bool) -> Any:
    def recording(key: bytes, value: str) -> str:
        out = function(key, value)
        SECRET_GUARD.add_code(out if result else value)
        return out

    return recording


TokenService.issue = _record_issued(TokenService.issue)  # type: ignore[method-assign]
_fernet.encrypt = _record_plaintext(_fernet.encrypt, result=False)
_fernet.decrypt = _record_plaintext(_fernet.decrypt, result=True)

import aiohttp  # noqa: E402

from tests.support.gateway import ApiClient, make_config  # noqa: E402
from tests.support.mosquitto import ACCESS_CODE, SIMULATOR_PASSWORD  # noqa: E402

from gateway.config.models import GatewayConfig  # noqa: E402
from gateway.factory import Gateway, create_gateway  # noqa: E402

SECRET_GUARD.fixed_codes.update({ACCESS_CODE, SIMULATOR_PASSWORD})


class _LogLeakHandler(logging.Handler):
    """On the root logger: checks the text of every record (message and traceback) as it is emitted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += self._formatter.formatException(record.exc_info)
            if record.stack_info:
                text += record.stack_info
        except Exception:  # a record that cannot be formatted is the logging plugin's business
            return
        SECRET_GUARD.check(text, f"a log record of {record.name!r} ({record.levelname})")


def _response_where(response: aiohttp.ClientResponse) -> str:
    return f"the response to {response.method} {response.url.path} ({response.status})"


def _issues_token(response: aiohttp.ClientResponse) -> bool:
    return response.method == "POST" and response.url.path == TOKEN_ISSUING_PATH and response.status < 300


_client_read = aiohttp.ClientResponse.read
_ws_receive = aiohttp.ClientWebSocketResponse.receive


async def _checked_read(self: aiohttp.ClientResponse) -> bytes:
    body = await _client_read(self)
    if not _issues_token(self):
        SECRET_GUARD.check(body.decode("utf-8", "replace"), _response_where(self))
        SECRET_GUARD.check("\n".join(f"{k}: {v}" for k, v in self.headers.items()), _response_where(self) + " headers")
    return body


async def _checked_receive(self: aiohttp.ClientWebSocketResponse, *args: Any, **kwargs: Any) -> aiohttp.WSMessage:
    message = await _ws_receive(self, *args, **kwargs)
    data = message.data
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", "replace")
    if isinstance(data, str):
        SECRET_GUARD.check(data, "a WebSocket message")
    return message


@pytest.fixture(scope="session", autouse=True)
def _secret_guard_hooks() -> Iterator[None]:
    """Root logger at DEBUG (a secret in a debug line is a leak too) with the checking handler, and the
    test clients' response reads wrapped."""
    root = logging.getLogger()
    handler = _LogLeakHandler()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    aiohttp.ClientResponse.read = _checked_read  # type: ignore[method-assign]
    aiohttp.ClientWebSocketResponse.receive = _checked_receive  # type: ignore[method-assign]
    try:
        yield
    finally:
        aiohttp.ClientResponse.read = _client_read  # type: ignore[method-assign]
        aiohttp.ClientWebSocketResponse.receive = _ws_receive  # type: ignore[method-assign]
        root.removeHandler(handler)
        root.setLevel(saved_level)


@pytest.fixture(autouse=True)
def _no_secret_leaks(_secret_guard_hooks: None) -> Iterator[None]:
    """Fails the test at teardown if an issued token or an access code reached a log line or a response."""
    SECRET_GUARD.orphans.extend(SECRET_GUARD.take_leaks())
    SECRET_GUARD.start_test()
    yield
    leaks = SECRET_GUARD.take_leaks()
    if leaks:
        unique = sorted(set(leaks))
        pytest.fail("secret leaked during this test:\n  " + "\n  ".join(unique), pytrace=False)


@pytest.fixture
def secret_guard() -> SecretGuard:
    """The guard itself, for the tests that check it."""
    return SECRET_GUARD


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = SECRET_GUARD.orphans + SECRET_GUARD.take_leaks()
    if leaks:
        sys.stderr.write("secret leaked outside any test:\n  " + "\n  ".join(sorted(set(leaks))) + "\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def gateway_config(tmp_path: Path) -> GatewayConfig:
    return make_config(tmp_path / "state")


@pytest.fixture
async def gateway(gateway_config: GatewayConfig) -> AsyncIterator[Gateway]:
    gw = await create_gateway(gateway_config)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ApiClient]:
    api = ApiClient(gateway.urls[0])
    try:
        yield api
    finally:
        await api.close()
