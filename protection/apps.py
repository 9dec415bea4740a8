from django.apps import AppConfig


class ProtectionConfig(AppConfig):
    name = "protection"
    verbose_name = "Protection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from protection import checks  # noqa: F401  (registers system checks)
        from protection.adminlogin import adminlogin_connect

        adminlogin_connect()
