"""System checks of the webhook settings (ids protection.E165, W165).

- protection.E165: ``WEBHOOKS_TIMEOUT`` is not a number of seconds in (0, 60],
  or ``WEBHOOKS_DISABLE_AFTER`` is not a positive number.
- protection.W165 (deploy): ``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` on with DEBUG
  off: whoever may add an endpoint can make gatehouse call inside your
  network (SSRF). Fine when every receiver is internal; say so by silencing it.
"""

from typing import Any

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@checks.register(checks.Tags.compatibility)
def check_webhook_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    timeout = gatehouse_settings.WEBHOOKS_TIMEOUT
    disable_after = gatehouse_settings.WEBHOOKS_DISABLE_AFTER
    if _number(timeout) and 0 < timeout <= 60 and _number(disable_after) and disable_after > 0:
        return []
    return [
        checks.Error(
            "GATEHOUSE WEBHOOKS_TIMEOUT must be seconds in (0, 60] and WEBHOOKS_DISABLE_AFTER "
            "a positive number of seconds.",
            id="protection.E165",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_webhook_private_targets(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or not gatehouse_settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return []
    return [
        checks.Warning(
            "WEBHOOKS_ALLOW_PRIVATE_TARGETS is on with DEBUG off: webhook endpoints may point "
            "at loopback and private addresses (SSRF).",
            hint="Unset GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS unless every receiver is "
            "internal (then silence protection.W165).",
            id="protection.W165",
        )
    ]
