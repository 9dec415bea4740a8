from django.apps import AppConfig


class ProtectionConfig(AppConfig):
    name = "protection"
    verbose_name = "Protection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from protection import checks  # noqa: F401  (registers system checks)
        from protection.events import event_recorded
        from protection.metrics import metrics_event_recorded

        event_recorded.connect(metrics_event_recorded, dispatch_uid="gatehouse.metrics")
