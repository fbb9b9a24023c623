"""Access-log lines never keep a live enrollment token."""

from __future__ import annotations

import logging

from provisioning.server import RedactEnrollmentTokens


def test_uvicorn_access_line_is_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("192.0.2.5:4000", "GET", "/prov/t/AbC-123_xyz/001565aabbcc.cfg", "1.1", 200), None,
    )
    assert RedactEnrollmentTokens().filter(record)
    assert record.getMessage() == (
        '192.0.2.5:4000 - "GET /prov/t/***/001565aabbcc.cfg HTTP/1.1" 200')


def test_lines_without_tokens_are_untouched() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", ("/prov/a.cfg",), None)
    assert RedactEnrollmentTokens().filter(record)
    assert record.getMessage() == "GET /prov/a.cfg" and record.args == ("/prov/a.cfg",)
