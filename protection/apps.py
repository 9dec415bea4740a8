from django.apps import AppConfig


class ProtectionConfig(AppConfig):
    name = "protection"
    verbose_name = "Protection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: system checks, OpenAPI security schemes.
        from protection import checks, checks_topology, startup  # noqa: F401
        from protection.challenges import checks as challenge_checks  # noqa: F401
        from protection.core.cachehealth import cache_health
        from protection.core.events import event_recorded
        from protection.core.metrics import metrics_event_recorded
        from protection.core.ratelimit.fallback import record_outage
        from protection.core.reputation import denials_observe
        from protection.http import schema  # noqa: F401
        from protection.policy.autoblock import autoblock_observe

        # Reactions listen to the audit log; recording an event never calls them.
        event_recorded.connect(denials_observe, dispatch_uid="gatehouse.reputation")
        event_recorded.connect(autoblock_observe, dispatch_uid="gatehouse.autoblock")
        event_recorded.connect(metrics_event_recorded, dispatch_uid="gatehouse.metrics")
        # What gatehouse sends: mail and SMS channels, webhooks (channel and
        # the listener that turns blocks and key alerts into events), and the
        # purge of sent messages.
        from protection.core.housekeeping import housekeeping_register
        from protection.core.outbox import checks as outbox_checks  # noqa: F401
        from protection.core.outbox import outbox_purge_expired, outbox_standard_channels_register
        from protection.webhooks import checks as webhooks_checks  # noqa: F401
        from protection.webhooks import webhooks_channel_register

        outbox_standard_channels_register()
        webhooks_channel_register()
        housekeeping_register("outbox messages", outbox_purge_expired)
        if record_outage not in cache_health.listeners:
            cache_health.listeners.append(record_outage)
        from protection.adminlogin import adminlogin_connect

        adminlogin_connect()
        # What waits in memory to be written goes out when idle and at exit.
        from protection.blocks.check import blocks_flush_hits, hit_recorder
        from protection.core.events import events_flush
        from protection.core.events.record import denial_writer
        from protection.core.flushing import process_flush_register

        process_flush_register("denials", events_flush, due=denial_writer.due)
        process_flush_register(
            "block hits", blocks_flush_hits, due=lambda: bool(hit_recorder.pending)
        )
