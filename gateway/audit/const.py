"""Every limit of the audit log, named once with its unit."""

from __future__ import annotations

from typing import Final

AUDIT_DETAILS_MAX_BYTES: Final = 2048
"""Largest ``details`` (canonical JSON, UTF-8) stored as is; larger ones become a truncation marker."""

AUDIT_DETAILS_PREVIEW_BYTES: Final = 512
"""Most bytes of the original canonical JSON kept in a truncation marker's ``preview``."""

AUDIT_DETAILS_MAX_DEPTH: Final = 8
"""Deepest nesting of mappings/lists accepted in ``details``."""

AUDIT_TEXT_MAX_CHARS: Final = 256
"""Longest ``action``/``outcome``/``actor``/``jti``/``client``/``target``; longer ones are cut."""

AUDIT_LIST_MAX_LIMIT: Final = 1000
"""Largest page ``AuditLog.list`` returns."""

AUDIT_VERIFY_CHUNK_ROWS: Final = 500
"""Rows read per query while verifying, so the whole log is never in memory."""

TRUNCATION_MARKER_KEY: Final = "_truncated"
"""Key that marks ``details`` replaced because they were over ``AUDIT_DETAILS_MAX_BYTES``."""

TEXT_CUT_SUFFIX: Final = "…"
"""Appended to a text field that was cut to ``AUDIT_TEXT_MAX_CHARS``."""
