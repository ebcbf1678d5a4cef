"""Upstream push sync: the gateway POSTs its telemetry buffer to the cloud over mutual TLS (issue 7)."""
