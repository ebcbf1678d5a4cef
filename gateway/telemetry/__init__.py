"""Telemetry: samples from the parts, buffered durably in SQLite, pulled or pushed upstream."""
