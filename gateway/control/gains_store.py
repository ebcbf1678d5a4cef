"""Autotune results kept in the state directory (JSON, per zone) and applied at each start."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from gateway.control.state import GainsView

log = logging.getLogger(__name__)

_FILE_MODE = 0o600
_ADAPTER: TypeAdapter[dict[int, GainsView]] = TypeAdapter(dict[int, GainsView])


class GainsStore:
    """``{"0": {"kp": ..., "ki": ..., "kd": ...}, ...}`` at ``path``, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[int, GainsView]:
        """Stored gains; an unreadable file is reported and ignored (the config's gains apply)."""
        try:
            return _ADAPTER.validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValidationError) as exc:
            log.error("stored extruder gains in %s ignored: %s", self.path, exc)
            return {}

    def save(self, zone: int, gains: GainsView) -> None:
        data = self.load()
        data[zone] = gains
        tmp = self.path.with_suffix(".tmp")
        text = json.dumps({str(z): g.model_dump() for z, g in sorted(data.items())}, indent=2)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
