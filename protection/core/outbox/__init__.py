"""The outbox: everything gatehouse sends (mail, SMS, webhooks), written in
the transaction of the change that causes it and sent by one sender
(``manage.py outbox_send``), with retries, backoff and a give-up horizon
per channel. Channels plug in through ``outbox_channel_register``; mail
and SMS are here, webhooks register from ``protection.webhooks``."""

from protection.core.outbox.channels import (
    CHANNELS,
    Delivery,
    DeliveryError,
    OutboxChannel,
    Outcome,
    PermanentDeliveryError,
    RetryableDeliveryError,
    outbox_channel,
    outbox_channel_register,
)
from protection.core.outbox.models import OutboxMessage
from protection.core.outbox.sender import (
    SendReport,
    outbox_run,
    outbox_send_due,
    outbox_send_next,
)
from protection.core.outbox.services import (
    outbox_enqueue,
    outbox_give_up_after,
    outbox_payload_digest,
    outbox_purge_expired,
    outbox_retry_delay,
)

__all__ = [
    "CHANNELS",
    "Delivery",
    "DeliveryError",
    "OutboxChannel",
    "OutboxMessage",
    "Outcome",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "SendReport",
    "outbox_channel",
    "outbox_channel_register",
    "outbox_enqueue",
    "outbox_give_up_after",
    "outbox_payload_digest",
    "outbox_purge_expired",
    "outbox_retry_delay",
    "outbox_run",
    "outbox_send_due",
    "outbox_send_next",
    "outbox_standard_channels_register",
]


def outbox_standard_channels_register() -> None:
    """Register the ``mail`` and ``sms`` channels (``ProtectionConfig.ready``)."""
    from protection.core.outbox.mail import mail_send
    from protection.core.outbox.sms import sms_send

    outbox_channel_register("mail", mail_send)
    outbox_channel_register("sms", sms_send)
