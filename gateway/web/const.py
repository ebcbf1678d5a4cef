"""Every limit of the technician page and its live feed, named once."""

from __future__ import annotations

from typing import Final

LIVE_AUTH_TIMEOUT_S: Final = 5.0
"""A live socket that has not authenticated within this time is closed."""
LIVE_PUSH_INTERVAL_S: Final = 1.0
"""How often a snapshot of the site is pushed to each signed-in page."""
LIVE_MAX_MESSAGE_BYTES: Final = 4096 + 256
"""Largest message a page may send: the auth message with a token of at most 4 KiB."""
LIVE_MAX_CLIENTS: Final = 32
"""Signed-in live sockets at once; further sign-ins are refused with a clear close reason. Sockets that
have not signed in yet do not count here (they have their own caps below)."""
LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS: Final = 4
"""Sockets from one client address that are open but not signed in yet; a further one is refused
(`too_many_unauthenticated`) and counts as a failed authentication for the address's back-off."""
LIVE_MAX_UNAUTHENTICATED: Final = 256
"""Sockets open but not signed in yet, over all addresses; at the cap a new socket evicts the one that
has waited longest (which counts as a failed authentication for its address): a flood from rotating
addresses cannot hold the door shut, and a page that signs in at once (within a round trip) gets in."""
LIVE_MAX_JSON_DEPTH: Final = 16
"""Nesting levels of arrays and objects a live message may have (the valid ones have 1); deeper
messages are refused before they are parsed."""
LIVE_HEARTBEAT_S: Final = 20.0
"""Quiet time after which a signed-in socket is pinged: a vanished tablet is noticed and its socket
closed. Our own ping, not aiohttp's heartbeat, whose timer outlived closed sockets."""
LIVE_PONG_TIMEOUT_S: Final = 10.0
"""Time a pinged page has to answer (any frame) before its socket is closed."""
LIVE_SEND_TIMEOUT_S: Final = 5.0
"""Time a message to a page may take to be written; a page that stopped reading is closed."""
LIVE_CLOSE_HANDSHAKE_S: Final = 1.0
"""Time a socket we close gets to answer our close frame before its connection is dropped."""
LIVE_CLOSE_TIMEOUT_S: Final = 1.0
"""Time a closing socket gets to say goodbye at shutdown."""

# Close codes in the private range (4000-4999), mirroring the HTTP statuses they stand for.
CLOSE_BAD_MESSAGE: Final = 4400
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_TOO_MANY: Final = 4429
CLOSE_GOING_AWAY: Final = 1001

STATIC_FILES: Final = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
"""The only files under /static/ (no directory listing, no path walking)."""
