"""Every log line carries the request id of the request that caused it."""

from __future__ import annotations

import io
import json
import logging

from gateway.logs import REQUEST_ID_VAR, JsonFormatter, RequestIdFilter, TEXT_FORMAT


def render(formatter: logging.Formatter, request_id: str | None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = REQUEST_ID_VAR.set(request_id) if request_id else None
        logger.warning("something happened")
        if token is not None:
            REQUEST_ID_VAR.reset(token)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_text_lines_carry_the_request_id() -> None:
    assert "[abc123]" in render(logging.Formatter(TEXT_FORMAT), "abc123")
    assert "[-]" in render(logging.Formatter(TEXT_FORMAT), None)


def test_json_lines_carry_the_request_id() -> None:
    entry = json.loads(render(JsonFormatter(), "feedbeef"))
    assert entry["request_id"] == "feedbeef" and entry["message"] == "something happened"
    assert entry["level"] == "warning"
