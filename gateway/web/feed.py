"""The snapshot of the site that the live socket pushes: one section per part, composed by the factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)

SectionSource = Callable[[], BaseModel | dict[str, Any] | list[Any] | None]


class LiveFeed:
    """Sections of the live snapshot (status, extruder, printers, ...), each read from its part."""

    def __init__(self) -> None:
        self._sections: list[tuple[str, SectionSource]] = []

    def add(self, name: str, source: SectionSource) -> None:
        if any(existing == name for existing, _ in self._sections):
            raise ValueError(f"live section {name!r} added twice")
        self._sections.append((name, source))

    def snapshot(self) -> dict[str, Any]:
        """Every section as JSON-ready data; a section whose part fails reads as unavailable."""
        out: dict[str, Any] = {}
        for name, source in self._sections:
            try:
                value = source()
            except Exception:
                log.exception("live section %s could not be read", name)
                out[name] = {"unavailable": True}
                continue
            out[name] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        return out
