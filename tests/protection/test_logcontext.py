"""The log context: request fields copied onto every record, and only known fields."""

import logging

import pytest

from protection.logcontext import (
    RequestContextFilter,
    log_context,
    log_context_open,
    log_context_update,
)


def test_context_fields_reach_records_and_vanish_after_the_request():
    log_filter = RequestContextFilter()
    with log_context_open(request_id="req-1", client_ip="198.51.100.4"):
        log_context_update(api_key="pk_test", session_id="s-1")
        record = logging.LogRecord("gatehouse.x", logging.INFO, __file__, 1, "m", (), None)
        assert log_filter.filter(record)
        assert (record.request_id, record.client_ip, record.api_key, record.session_id) == (
            "req-1",
            "198.51.100.4",
            "pk_test",
            "s-1",
        )
    assert log_context() == {}
    record = logging.LogRecord("gatehouse.x", logging.INFO, __file__, 1, "m", (), None)
    log_filter.filter(record)
    assert record.request_id is None


def test_a_value_passed_with_extra_wins_over_the_context():
    with log_context_open(request_id="req-2", api_key="pk_context"):
        record = logging.LogRecord("gatehouse.x", logging.INFO, __file__, 1, "m", (), None)
        record.api_key = "pk_event"
        RequestContextFilter().filter(record)
    assert record.api_key == "pk_event"
    assert record.request_id == "req-2"


def test_an_unknown_context_field_is_refused():
    with log_context_open(), pytest.raises(TypeError, match="emial"):
        log_context_update(emial="x")
