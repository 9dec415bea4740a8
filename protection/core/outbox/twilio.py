"""An SMS sender for Twilio's Messages API (``SMS_BACKEND = "twilio"``).

``POST {TWILIO_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json``,
form-encoded ``To``, ``Body`` and ``From`` (a number) or
``MessagingServiceSid`` (``MG…``), HTTP basic auth with the account SID
(or an API key SID) and the auth token (or the key's secret). Twilio
answers 201 with the message resource, or an error object
``{"code", "message", "more_info", "status"}``: 429 and 5xx are retried
(honouring ``Retry-After``), other 4xx are permanent. Errors are stored as
status and Twilio's error code only: Twilio's message quotes the number.
"""

import base64
import json
from urllib.parse import quote, urlencode

from protection.conf import gatehouse_settings
from protection.core.outbox.channels import PermanentDeliveryError, RetryableDeliveryError
from protection.core.outbox.http import HttpFailure, http_post, retry_after_seconds


class TwilioSmsSender:
    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        api_key_sid: str | None = None,
        sender: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.account_sid = account_sid or gatehouse_settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or gatehouse_settings.TWILIO_AUTH_TOKEN
        self.api_key_sid = api_key_sid or gatehouse_settings.TWILIO_API_KEY_SID
        self.sender = sender or gatehouse_settings.TWILIO_FROM
        self.base_url = (base_url or gatehouse_settings.TWILIO_BASE_URL).rstrip("/")
        self.timeout = float(timeout or gatehouse_settings.SMS_TIMEOUT)

    def send(self, to: str, body: str) -> None:
        if not (self.account_sid and self.auth_token and self.sender):
            raise RetryableDeliveryError(
                "Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM)"
            )
        form = {"To": to, "Body": body}
        form["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        user = self.api_key_sid or self.account_sid
        credentials = base64.b64encode(f"{user}:{self.auth_token}".encode()).decode("ascii")
        url = (
            f"{self.base_url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}/Messages.json"
        )
        try:
            answer = http_post(
                url,
                body=urlencode(form).encode(),
                headers={
                    "Authorization": f"Basic {credentials}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                    "User-Agent": "gatehouse-sms",
                },
                timeout=self.timeout,
            )
        except HttpFailure as exc:
            raise RetryableDeliveryError(f"twilio unreachable: {exc}") from None
        if 200 <= answer.status < 300:
            return
        try:
            code = json.loads(answer.body).get("code")
        except (ValueError, AttributeError):
            code = None
        error = f"twilio HTTP {answer.status}" + (f" error {str(code)[:12]}" if code else "")
        if answer.status == 429 or answer.status >= 500:
            retry_after = retry_after_seconds(answer.headers.get("retry-after"))
            raise RetryableDeliveryError(error, retry_after=retry_after)
        raise PermanentDeliveryError(error)
