"""Standard Webhooks signatures: the specification's published example, its own
verifier, and the plain-HMAC check docs/webhooks.md shows consumers
(``tests.support.webhooks.signature_valid``)."""

import base64
import datetime
import re

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from protection.webhooks import webhook_secret_generate, webhook_signature_headers
from tests.support.webhooks import signature_valid

# The example of the standardwebhooks library's own tests (test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = datetime.datetime.fromtimestamp(1614265330, tz=datetime.UTC)
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_example_signs_to_its_published_signature():
    headers = webhook_signature_headers(
        secret=SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY
    )
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert signature_valid(SPEC_SECRET, headers, SPEC_BODY)


def test_the_standardwebhooks_verifier_accepts_our_signature_and_refuses_a_change():
    secret = webhook_secret_generate()
    body = b'{"type":"block.created","data":{"kind":"ip","value":"203.0.113.9"}}'
    headers = webhook_signature_headers(
        secret=secret,
        message_id="msg_" + "0" * 32,
        timestamp=datetime.datetime.now(tz=datetime.UTC),
        body=body,
    )
    assert Webhook(secret).verify(body, headers)["data"]["value"] == "203.0.113.9"
    assert signature_valid(secret, headers, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"203.0.113.9", b"203.0.113.8"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret_generate()).verify(body, headers)
    assert not signature_valid(webhook_secret_generate(), headers, body)


def test_secrets_are_whsec_base64_of_32_random_bytes():
    first, second = webhook_secret_generate(), webhook_secret_generate()
    assert first != second
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", first)
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
