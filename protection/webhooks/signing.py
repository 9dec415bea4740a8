"""Standard Webhooks signatures: the ``whsec_`` secret and the three headers.

``webhook-id`` (the outbox message id, the same on every retry),
``webhook-timestamp`` (this attempt, Unix seconds) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the
secret's decoded bytes), computed by the ``standardwebhooks`` package, the
specification's own implementation, so receivers using it verify us.
"""

import base64
import datetime
import secrets

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64


def webhook_secret_generate() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def webhook_signature_headers(
    *, secret: str, message_id: str, timestamp: datetime.datetime, body: bytes
) -> dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }
