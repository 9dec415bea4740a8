"""Model registry: the models live with their services, one module per concern."""

from protection.attestation.app_attest import AppAttestKey
from protection.blocks.models import BlockedClient
from protection.challenges.replay import SpentChallenge
from protection.core.events import SecurityEvent
from protection.core.outbox import OutboxMessage
from protection.keys import ApiKey
from protection.netintel.models import AsnRange, AutonomousSystem, ClassRange, NetIntelDataset
from protection.sessions import AnonymousSession
from protection.webhooks import WebhookEndpoint

__all__ = [
    "AnonymousSession",
    "AppAttestKey",
    "ApiKey",
    "AsnRange",
    "AutonomousSystem",
    "BlockedClient",
    "ClassRange",
    "NetIntelDataset",
    "OutboxMessage",
    "SecurityEvent",
    "SpentChallenge",
    "WebhookEndpoint",
]
