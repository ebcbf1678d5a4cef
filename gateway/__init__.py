"""edge-gateway: the software appliance on a factory's printer VLAN."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edge-gateway")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
