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
"""Open live sockets at once; further ones are refused with a clear close reason."""
LIVE_HEARTBEAT_S: Final = 20.0
"""WebSocket ping interval: a vanished tablet is noticed and its socket closed."""
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
