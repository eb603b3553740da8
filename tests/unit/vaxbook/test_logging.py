"""One log stream on stdout in one layout: structlog's events and the standard library's records (uvicorn's start-up
lines and errors, Alembic's) alike."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from vaxbook.observability import configure_logging


@pytest.mark.parametrize("logger_name", ["uvicorn.error", "uvicorn", "alembic.runtime.migration", "asyncio"])
def test_standard_library_records_share_the_layout_of_our_events(
    logger_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, level="INFO")
    structlog.get_logger("vaxbook.test").info("ours", detail=1)
    logging.getLogger(logger_name).warning("theirs %s", "formatted")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger(logger_name).exception("failed")
    logging.getLogger(logger_name).debug("below the level")

    captured = capsys.readouterr()
    assert captured.err == ""
    ours, theirs, failed = (json.loads(line) for line in captured.out.splitlines())
    assert ours["event"] == "ours"
    assert theirs["event"] == "theirs formatted"
    assert failed["event"] == "failed"
    assert "RuntimeError: boom" in failed["exception"]
    common = {"event", "level", "timestamp"}
    assert common <= set(ours)
    assert set(theirs) == common, "nothing else from the record (uvicorn's color_message and the like)"
    assert (ours["level"], theirs["level"], failed["level"]) == ("info", "warning", "error")
    assert theirs["timestamp"].endswith("Z")
    assert len(ours["timestamp"]) == len(theirs["timestamp"])


def test_console_lines_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=False, level="INFO")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
    line = capsys.readouterr().out
    assert "Started server process [1]" in line
    assert not line.startswith("{")
    configure_logging(json=True, level="INFO")


def test_fetched_urls_stay_out_of_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    """httpx names every URL it fetches, query string and all, at INFO."""
    configure_logging(json=True, level="INFO")
    logging.getLogger("httpx").info("HTTP Request: GET http://sms.example/send?to=%s", "+84912345678")
    logging.getLogger("httpx").warning("retrying")
    assert [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()] == ["retrying"]
