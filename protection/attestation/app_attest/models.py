"""The ``AppAttestKey`` model: a device key Apple attested, and its sign counter."""

from django.db import models
from django.utils import timezone


class AppAttestKey(models.Model):
    """A device key Apple attested for one of our apps; its counter guards replays."""

    key_id = models.CharField(max_length=64, unique=True)  # base64 of SHA-256(public key)
    public_key = models.BinaryField()  # DER SubjectPublicKeyInfo, P-256
    sign_count = models.BigIntegerField(default=0)
    app_id = models.CharField(max_length=255)
    environment = models.CharField(max_length=16)
    api_key = models.ForeignKey(
        "protection.ApiKey", on_delete=models.CASCADE, related_name="app_attest_keys"
    )
    receipt = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "protection"
        verbose_name = "App Attest key"

    def __str__(self) -> str:
        return f"{self.app_id} {self.key_id}"
