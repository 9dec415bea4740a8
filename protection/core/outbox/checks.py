"""System checks of the outbox's settings (ids protection.E160–E163, W160–W161).

- protection.E160: ``SMS_BACKEND`` names a sender class that cannot be imported.
- protection.E161: ``SMS_BACKEND = "file"`` without ``SMS_FILE_PATH``.
- protection.E162: ``SMS_BACKEND = "twilio"`` without the account SID, auth
  token and sender (``TWILIO_FROM``).
- protection.E163: retry settings that are not positive numbers, or an
  ``OUTBOX_GIVE_UP_AFTER`` that is not a dict of positive numbers.
- protection.W160 (deploy): a console, in-memory or dummy mail backend with
  DEBUG off: mails (and the codes in them) would go to the log or nowhere.
- protection.W161 (deploy): the console SMS backend with DEBUG off.
"""

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from protection.conf import gatehouse_settings
from protection.core.outbox.sms import sms_backend_path

DEVELOPMENT_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@checks.register(checks.Tags.compatibility)
def check_outbox_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    backend = (gatehouse_settings.SMS_BACKEND or "").strip().lower()
    path = sms_backend_path()
    if path:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f"GATEHOUSE SMS_BACKEND {gatehouse_settings.SMS_BACKEND!r} cannot be "
                    f"imported: {exc}",
                    hint="Use console, file, twilio or the dotted path of a class with "
                    "send(to, body).",
                    id="protection.E160",
                )
            )
    if backend == "file" and not gatehouse_settings.SMS_FILE_PATH:
        errors.append(
            checks.Error(
                "GATEHOUSE SMS_BACKEND is 'file' but SMS_FILE_PATH is empty.",
                hint="Set GATEHOUSE_SMS_FILE_PATH to the file SMS are appended to.",
                id="protection.E161",
            )
        )
    twilio = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    missing = [name for name in twilio if not getattr(gatehouse_settings, name)]
    if backend == "twilio" and missing:
        errors.append(
            checks.Error(
                f"GATEHOUSE SMS_BACKEND is 'twilio' but {', '.join(missing)} is empty.",
                hint="Set GATEHOUSE_TWILIO_ACCOUNT_SID, GATEHOUSE_TWILIO_AUTH_TOKEN and "
                "GATEHOUSE_TWILIO_FROM.",
                id="protection.E162",
            )
        )
    problems = [
        name
        for name in ("OUTBOX_RETRY_BASE", "OUTBOX_RETRY_MAX_DELAY", "OUTBOX_POLL_INTERVAL")
        if not _positive(getattr(gatehouse_settings, name))
    ]
    horizons = gatehouse_settings.OUTBOX_GIVE_UP_AFTER
    if not isinstance(horizons, dict) or not all(_positive(v) for v in horizons.values()):
        problems.append("OUTBOX_GIVE_UP_AFTER")
    if problems:
        errors.append(
            checks.Error(
                f"GATEHOUSE {', '.join(problems)}: expected positive numbers of seconds "
                "(OUTBOX_GIVE_UP_AFTER: a dict of channel name -> seconds).",
                id="protection.E163",
            )
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_outbox_production_backends(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    warnings: list[checks.CheckMessage] = []
    if settings.EMAIL_BACKEND in DEVELOPMENT_MAIL_BACKENDS:
        warnings.append(
            checks.Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND} with DEBUG off: mails are not "
                "delivered (and a console backend writes their codes to the log).",
                hint="Set DJANGO_EMAIL_BACKEND=smtp and DJANGO_EMAIL_HOST…",
                id="protection.W160",
            )
        )
    if (gatehouse_settings.SMS_BACKEND or "").strip().lower() == "console":
        warnings.append(
            checks.Warning(
                "SMS_BACKEND is 'console' with DEBUG off: SMS are printed, not sent.",
                hint="Set GATEHOUSE_SMS_BACKEND=twilio (or your sender class).",
                id="protection.W161",
            )
        )
    return warnings
