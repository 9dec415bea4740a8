"""Django settings for gatehouse, read from the environment.

With nothing set, gatehouse runs embedded: SQLite in ./var/ and the local-memory
cache, DEBUG off. Production sets DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY,
GATEHOUSE_SIGNING_KEY and DJANGO_ALLOWED_HOSTS (see README "Configuration").
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Development-only values. config.wsgi / config.asgi refuse to start with them
# when DEBUG is off, and the deploy checks flag them.
DEVELOPMENT_SECRET_KEY = "django-insecure-gatehouse-development-only-do-not-deploy"
DEVELOPMENT_SIGNING_KEY = "gatehouse-development-signing-key-do-not-deploy"

DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_recaptcha",
    "axes",
    "protection",
    "signup",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "protection.errors.ApiProblemMiddleware",
    "protection.middleware.BlockAndRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: refuses a locked-out login with 429.
    "axes.middleware.AxesMiddleware",
]

# --- Admin and staff logins (django-axes) -------------------------------------
# Failed logins are counted per client IP and, separately, per username; at
# the limit the IP (or the account) is locked out for the cool-off time, and
# protection.adminlogin records each failure and lockout as a SecurityEvent.
# A username lockout also stops its owner: manage.py axes_reset_username NAME.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("GATEHOUSE_ADMIN_LOGIN_FAILURES", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("GATEHOUSE_ADMIN_LOCKOUT_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# The API's own client IP rules (trusted proxies), not X-Forwarded-For as sent.
AXES_CLIENT_IP_CALLABLE = "protection.adminlogin.login_client_ip"
AXES_VERBOSE = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite in ./var unless DATABASE_URL says otherwise -----------
DATA_DIR = Path(os.environ.get("GATEHOUSE_DATA_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 3
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "gatehouse.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: local memory unless REDIS_URL says otherwise --------------------
# Short socket timeouts: a dead Redis must cost milliseconds, not seconds.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("GATEHOUSE_CACHE_PREFIX", "gh"),
            "OPTIONS": {
                "socket_connect_timeout": 0.25,
                "socket_timeout": 0.25,
                "retry_on_timeout": False,
                "health_check_interval": 30,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "gatehouse",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files (admin, Swagger UI from drf-spectacular-sidecar) are served by
# this process through WhiteNoise: no CDN, no separate web server needed.
STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None  # only for collectstatic
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security headers (manage.py check --deploy passes with DEBUG off) -------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_TLS_PROXY") else None
)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Request bodies larger than this are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("GATEHOUSE_MAX_BODY_BYTES", 16 * 1024))

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Refuses deep nesting, duplicate keys and huge or non-finite numbers (400).
    "DEFAULT_PARSER_CLASSES": ["protection.parsers.HardenedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    # Views opt in with rate_limit_group; see protection.throttling.
    "DEFAULT_THROTTLE_CLASSES": ["protection.throttling.GatehouseRateThrottle"],
    "EXCEPTION_HANDLER": "protection.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "gatehouse API",
    "DESCRIPTION": "Public sign-up API protected by API keys, proof of work, "
    "CAPTCHA and short-lived anonymous sessions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# django-ratelimit is used as a library (its counters), not as an installed
# app; protection.checks covers its cache concerns (protection.W001).
SILENCED_SYSTEM_CHECKS: list[str] = []
RATELIMIT_USE_CACHE = "default"

# reCAPTCHA keys. Without them, DEBUG runs use Google's published test keys
# (they accept every token) and production has none: keys that require
# reCAPTCHA are then refused with 503 until RECAPTCHA_SITE_KEY and
# RECAPTCHA_SECRET_KEY are set. Test keys in production are protection.E004;
# django-recaptcha's own check would also fire in development, so it is off.
_GOOGLE_TEST_SITE_KEY = "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI"
_GOOGLE_TEST_SECRET_KEY = "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe"
RECAPTCHA_PUBLIC_KEY = os.environ.get("RECAPTCHA_SITE_KEY", _GOOGLE_TEST_SITE_KEY if DEBUG else "")
RECAPTCHA_PRIVATE_KEY = os.environ.get(
    "RECAPTCHA_SECRET_KEY", _GOOGLE_TEST_SECRET_KEY if DEBUG else ""
)
SILENCED_SYSTEM_CHECKS.append("django_recaptcha.recaptcha_test_key_error")
# siteverify: bounded wait (seconds, an int for django-recaptcha) and host
# (www.recaptcha.net where www.google.com is blocked).
RECAPTCHA_VERIFY_REQUEST_TIMEOUT = int(os.environ.get("RECAPTCHA_TIMEOUT", "3"))
if os.environ.get("RECAPTCHA_DOMAIN"):
    RECAPTCHA_DOMAIN = os.environ["RECAPTCHA_DOMAIN"]

GATEHOUSE = {
    "SIGNING_KEY": os.environ.get("GATEHOUSE_SIGNING_KEY") or DEVELOPMENT_SIGNING_KEY,
    "TRUSTED_PROXIES": int(os.environ.get("GATEHOUSE_TRUSTED_PROXIES", "0")),
    **(
        {"TRUSTED_PROXY_NETWORKS": env_list("GATEHOUSE_TRUSTED_PROXY_NETWORKS")}
        if os.environ.get("GATEHOUSE_TRUSTED_PROXY_NETWORKS")
        else {}
    ),
    "MAX_BODY_BYTES": DATA_UPLOAD_MAX_MEMORY_SIZE,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        "gatehouse": {"level": os.environ.get("GATEHOUSE_LOG_LEVEL", "INFO")},
    },
}
