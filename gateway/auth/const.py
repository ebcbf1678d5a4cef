"""Every lifetime, limit and fixed value of the gateway's authentication, named once with its unit.

Durations end in ``_S`` (seconds), sizes in ``_BYTES`` or ``_CHARS``, counts say what they count.
Configuration (``gateway.config.models``) takes its defaults from here.
"""

from __future__ import annotations

from typing import Callable, Final

Clock = Callable[[], float]
"""An injected time source returning seconds as a float.

The keyring and the token service take a wall-clock (``time.time``): their timestamps are persisted
and compared with ``iat``/``exp`` claims. The failed-auth tracker takes a monotonic clock
(``time.monotonic``): it only measures intervals.
"""

# --- Roles ----------------------------------------------------------------------------------------
ROLES: Final[tuple[str, ...]] = ("viewer", "technician", "admin", "sync")
"""Every role a token may carry. What each role may do is decided by the route table, not here."""

# --- Tokens ---------------------------------------------------------------------------------------
TOKEN_ALGORITHM: Final = "EdDSA"
"""The only JWS algorithm issued and accepted (Ed25519 signatures)."""

TOKEN_LEEWAY_S: Final = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

TOKEN_DEFAULT_TTL_S: Final = 8 * 60 * 60
"""Lifetime of a token issued without an explicit ``ttl_s`` (one shift)."""

TOKEN_MAX_TTL_S: Final = 30 * 24 * 60 * 60
"""Longest lifetime a token may be issued for; also how long a retired signing key is kept."""

TOKEN_MAX_BYTES: Final = 4096
"""Longer bearer tokens are rejected as malformed without being parsed."""

TOKEN_SUB_MAX_CHARS: Final = 64
"""Longest ``sub`` (subject) a token may be issued for."""

TOKEN_JTI_BYTES: Final = 16
"""Random bytes in a token id (128 bits), encoded url-safe base64."""

VERIFIED_TOKEN_CACHE_ENTRIES: Final = 1024
"""Most tokens whose signature check is remembered (by exact text) so repeat requests skip it."""

# --- Signing keys ---------------------------------------------------------------------------------
KEY_ID_BYTES: Final = 9
"""Random bytes in a key id; 9 bytes encode to 12 url-safe base64 characters."""

KEY_ID_MAX_CHARS: Final = 64
"""Longest key id accepted when loading a keyring file."""

KEYRING_FILE_MODE: Final = 0o600
"""Mode of every file in the keys directory (private keys and metadata)."""

KEYRING_DIR_MODE: Final = 0o700
"""Mode of the keys directory."""

KEYRING_FILE_MAX_BYTES: Final = 1024 * 1024
"""A keyring metadata file larger than this is treated as corrupt rather than read."""

KEYRING_RELOAD_INTERVAL_S: Final = 1.0
"""How often the running server checks whether another process (the CLI) changed the keyring."""

KEYRING_LOAD_ATTEMPTS: Final = 3
"""Attempts to load a consistent keyring while another process is rewriting it."""

# --- Failed-authentication back-off ----------------------------------------------------------------
FAILED_AUTH_LIMIT: Final = 5
"""Failed authentications from one client address, within the window, that start a block."""

FAILED_AUTH_WINDOW_S: Final = 60
"""Sliding window in which failed authentications are counted."""

BACKOFF_INITIAL_S: Final = 30
"""Length of the first block of an address."""

BACKOFF_MAX_S: Final = 15 * 60
"""Cap of the doubling block."""

BACKOFF_DECAY_S: Final = 5 * 60
"""Quiet time (no failures, not blocked) that steps an address's back-off level down by one."""

BACKOFF_MAX_TRACKED_ADDRESSES: Final = 10_000
"""Most client addresses tracked at once; the least recently active is forgotten first."""
