from django.apps import AppConfig


class SignupConfig(AppConfig):
    name = "signup"
    verbose_name = "Sign-up"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # signup stands on protection's public API: its settings, error codes
        # and housekeeping are registered with it, never written into it.
        from protection.base.exceptions import error_codes_register
        from protection.conf import settings_register
        from protection.core.events import (
            event_kinds_register,
            event_reasons_register,
            event_recorded,
        )
        from protection.core.housekeeping import housekeeping_register
        from signup import checks, conf, errors  # noqa: F401 (checks register themselves)
        from signup.idempotency import idempotency_purge_expired
        from signup.pumping import sms_pumping_observe
        from signup.snapshot import creation_snapshots_purge_expired
        from signup.verification import pending_signup_purge_expired

        settings_register("signup", conf.DEFAULTS, policy=conf.POLICY)
        error_codes_register(errors.ERROR_CODES)
        event_kinds_register(errors.EVENT_KINDS)
        event_reasons_register(errors.EVENT_REASONS)
        housekeeping_register("idempotency records", idempotency_purge_expired)
        housekeeping_register("creation snapshots", creation_snapshots_purge_expired)
        housekeeping_register("pending sign-ups", pending_signup_purge_expired)
        # The conversion monitor's refusal blocks its phone prefix (a reaction:
        # the judgement that records it stays pure).
        event_recorded.connect(sms_pumping_observe, dispatch_uid="signup.sms_pumping")
