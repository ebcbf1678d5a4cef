"""Fixtures of the API tests that need an extruder site (simulated controller on a pty + control process)."""

from __future__ import annotations

from tests.support.extruder import extruder_site  # noqa: F401  (fixture)
