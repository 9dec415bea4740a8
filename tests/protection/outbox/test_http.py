"""The channels' one HTTP POST: pinned to the checked address, no redirects, a deadline."""

import pytest

from protection.core.outbox.http import HttpFailure, http_post, retry_after_seconds
from tests.support.receivers import Answer, receiving


def test_the_request_goes_to_the_pinned_address_with_the_urls_host():
    with receiving() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        # hooks.example never resolves: the connection uses the address given.
        answer = http_post(
            f"http://hooks.example:{port}/in?x=1",
            body=b"{}",
            headers={"Content-Type": "application/json"},
            timeout=5,
            address="127.0.0.1",
        )
    assert answer.status == 204
    [request] = receiver.received
    assert request.path == "/in?x=1"
    assert request.headers["host"] == f"hooks.example:{port}"


def test_a_redirect_is_returned_not_followed():
    with receiving() as receiver:
        receiver.default = Answer(status=307, headers={"Location": "/other"})
        answer = http_post(f"{receiver.url}/in", body=b"", headers={}, timeout=5)
    assert answer.status == 307 and answer.headers["location"] == "/other"
    assert [r.path for r in receiver.received] == ["/in"]


def test_the_whole_exchange_has_one_deadline():
    with receiving() as receiver:
        receiver.default = Answer(status=200, drip=0.05)
        with pytest.raises(HttpFailure, match="timed out after 0.3s"):
            http_post(f"{receiver.url}/in", body=b"", headers={}, timeout=0.3)


@pytest.mark.parametrize(
    ("value", "seconds"), [("120", 120.0), (" 5 ", 5.0), ("-1", None), ("soon", None), (None, None)]
)
def test_retry_after_is_read_in_seconds(value, seconds):
    assert retry_after_seconds(value) == seconds
