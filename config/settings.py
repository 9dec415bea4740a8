"""Django settings for gatehouse, read from the environment.

With nothing set, gatehouse runs embedded: SQLite in ./var/ and the local-memory
cache, DEBUG off. Production sets DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY,
GATEHOUSE_SIGNING_KEY and DJANGO_ALLOWED_HOSTS (docs/settings.md, docs/operating.md).
Longer than ~300 lines: the one place a deployment's settings are read.
"""

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS as JSON_RESERVED_ATTRS

from config.environment import gatehouse_from_environment, project_env
from protection.base.redisurl import RedisUrlError, redis_url_parse

BASE_DIR = Path(__file__).resolve().parent.parent

# Every variable is read through its declaration (config/environment.py for
# Django's and the servers', the apps' catalogues for GATEHOUSE settings): a
# value that does not parse stops start-up with an error naming the variable
# (DJANGO_DEBUG=flase, DJANGO_HSTS_SECONDS=1y) instead of being read as False
# or crashing with a bare ValueError. Unset and empty mean the default.

# Development-only values. config.wsgi / config.asgi refuse to start with them
# when DEBUG is off, and the deploy checks flag them.
DEVELOPMENT_SECRET_KEY = "django-insecure-gatehouse-development-only-do-not-deploy"
DEVELOPMENT_SIGNING_KEY = "gatehouse-development-signing-key-do-not-deploy"

DEBUG = project_env("DJANGO_DEBUG", False)
SECRET_KEY = project_env("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = project_env("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = project_env("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Before django.contrib.admin, so protection's admin/index.html (the
    # security dashboard link) overrides the admin's own; the apps ship all
    # their templates and static files; the project's own (error pages, admin
    # branding) are in templates/ (TEMPLATES DIRS), outside the wheel.
    "protection",
    "signup",
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
]

MIDDLEWARE = [
    # First, so every log line of the request (and every response) has its id.
    "protection.requestid.RequestIdMiddleware",
    # First: a Host outside ALLOWED_HOSTS is a clean 400 host_not_allowed.
    "protection.errors.AllowedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "protection.errors.ApiProblemMiddleware",
    "protection.middleware.BlockAndRateLimitMiddleware",
    # The admin door: GATEHOUSE_ADMIN_NETWORKS, and login attempts counted
    # per IP (/64) and globally before any password hash (429 page).
    "protection.adminlogin.AdminLoginGuardMiddleware",
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
# Failed logins of one username from one address lock that pair out for the
# cool-off time (attempts during it do not extend it). Attempts per address,
# the outside clients' budget and a short lockout per username alone are
# counted by protection.adminlogin.AdminLoginGuardMiddleware before any hash,
# which also records each failure and lockout as a SecurityEvent. Lift a
# lockout: manage.py axes_reset_username NAME (or axes_reset).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = project_env("GATEHOUSE_ADMIN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = project_env("GATEHOUSE_ADMIN_LOCKOUT_HOURS", 1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# One request an hour must not keep an account locked for ever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The API's own client IP rules (trusted proxies), not X-Forwarded-For as sent.
AXES_CLIENT_IP_CALLABLE = "protection.adminlogin.login_client_ip"
AXES_VERBOSE = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates (error pages, admin branding); the apps ship theirs.
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
DATA_DIR = Path(project_env("GATEHOUSE_DATA_DIR", BASE_DIR / "var"))
DATABASE_URL = project_env("DATABASE_URL", "")
if DATABASE_URL:
    try:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:  # dj-database-url's errors do not name the variable
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    DATABASES = {"default": _database}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 3
    # PgBouncer in transaction pooling: consecutive transactions of one
    # connection may run on different server connections, so nothing may
    # outlive a transaction. No server-side cursors (a named cursor lives
    # across fetches), and no prepared statements (psycopg prepares a query
    # after 5 runs; PgBouncer before 1.21 cannot track them). Django already
    # leaves prepare_threshold at None; it is set here so nobody turns it on.
    # docs/topologies.md.
    DATABASE_POOLING = project_env("DATABASE_POOLING", "none")
    DATABASES["default"]["CONN_MAX_AGE"] = project_env("DATABASE_CONN_MAX_AGE", 60)
    if DATABASE_POOLING == "transaction":
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
    # Read replicas (streaming standbys): the lookup's read goes to one
    # (protection.core.replicas); every write, session, revocation and block
    # stays on "default". In tests a replica is the default database itself.
    DATABASE_REPLICA_URLS = project_env("DATABASE_REPLICA_URLS", [])
    for _index, _url in enumerate(DATABASE_REPLICA_URLS):
        try:
            _replica = dj_database_url.parse(_url, conn_max_age=60, conn_health_checks=True)
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS item {_index + 1}: {exc}") from None
        # A replica that does not answer is skipped: it must cost little.
        _replica.setdefault("OPTIONS", {})["connect_timeout"] = 1
        if DATABASE_POOLING == "transaction":
            _replica["DISABLE_SERVER_SIDE_CURSORS"] = True
            _replica["OPTIONS"]["prepare_threshold"] = None
        _replica["TEST"] = {"MIRROR": "default"}
        DATABASES[f"replica_{_index}"] = _replica
    if DATABASE_REPLICA_URLS:
        DATABASE_ROUTERS = ["protection.core.replicas.PrimaryRouter"]
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "gatehouse.sqlite3"),
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: local memory unless REDIS_URL says otherwise --------------------
# Short socket timeouts: a dead Redis must cost milliseconds, not seconds.
# GATEHOUSE_REDIS_MODE: single (REDIS_URL names one Redis), sentinel (REDIS_URL
# lists the sentinels, GATEHOUSE_REDIS_SENTINEL_SERVICE names the primary,
# GATEHOUSE_REDIS_SENTINEL_PASSWORD the sentinels' own password if any) or
# cluster (REDIS_URL lists seed nodes). docs/topologies.md.
REDIS_URL = project_env("REDIS_URL", "")
REDIS_MODE = project_env("GATEHOUSE_REDIS_MODE", "single")
if REDIS_URL:
    _redis_options: dict = {
        "mode": REDIS_MODE,
        "socket_connect_timeout": 0.25,
        "socket_timeout": 0.25,
        "retry_on_timeout": False,
        "health_check_interval": 30,
    }
    if REDIS_MODE == "sentinel":
        _redis_options["service"] = project_env("GATEHOUSE_REDIS_SENTINEL_SERVICE", "")
        if project_env("GATEHOUSE_REDIS_SENTINEL_PASSWORD", ""):
            _redis_options["sentinel_password"] = project_env(
                "GATEHOUSE_REDIS_SENTINEL_PASSWORD", ""
            )
    try:  # the parser the cache and the system checks use: the same verdict
        redis_url_parse(REDIS_URL, mode=REDIS_MODE, service=_redis_options.get("service", ""))
    except RedisUrlError as exc:
        raise ImproperlyConfigured(
            f"REDIS_URL invalid for GATEHOUSE_REDIS_MODE={REDIS_MODE}: {exc}"
        ) from None
    CACHES = {
        "default": {
            "BACKEND": "protection.core.rediscache.GatehouseRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": project_env("GATEHOUSE_CACHE_PREFIX", "gh"),
            "OPTIONS": _redis_options,
        }
    }
elif REDIS_MODE != "single":
    raise ImproperlyConfigured(f"GATEHOUSE_REDIS_MODE={REDIS_MODE} needs REDIS_URL.")
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
STATIC_ROOT = project_env("DJANGO_STATIC_ROOT", None)  # only for collectstatic
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security headers (manage.py check --deploy passes with DEBUG off) -------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if project_env("DJANGO_BEHIND_TLS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = project_env("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Probes and scrapes come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health(/live|/ready)?$", r"^metrics$"]
SECURE_HSTS_SECONDS = project_env("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = project_env("DJANGO_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Refuses deep nesting, duplicate keys and huge or non-finite numbers (400).
    "DEFAULT_PARSER_CLASSES": ["protection.parsers.HardenedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    # Views opt in with rate_limit_group; see protection.throttling.
    "DEFAULT_THROTTLE_CLASSES": ["protection.throttling.GatehouseRateThrottle"],
    "EXCEPTION_HANDLER": "protection.errors.exception_handler",
    # Error responses and headers derived from each view's classes.
    "DEFAULT_SCHEMA_CLASS": "protection.openapi.AutoSchema",
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
    # Tags from the path after /api/v1/: challenges, health, persons, sessions.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Relative: the API is served from the same origin as this document.
    "SERVERS": [{"url": "/", "description": "This gatehouse server"}],
    "ENUM_NAME_OVERRIDES": {"ProblemCodeEnum": "protection.openapi.problem_codes"},
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
RECAPTCHA_PUBLIC_KEY = project_env("RECAPTCHA_SITE_KEY", _GOOGLE_TEST_SITE_KEY if DEBUG else "")
RECAPTCHA_PRIVATE_KEY = project_env(
    "RECAPTCHA_SECRET_KEY", _GOOGLE_TEST_SECRET_KEY if DEBUG else ""
)
SILENCED_SYSTEM_CHECKS.append("django_recaptcha.recaptcha_test_key_error")
# siteverify: bounded wait (seconds, an int for django-recaptcha) and host
# (www.recaptcha.net where www.google.com is blocked).
RECAPTCHA_VERIFY_REQUEST_TIMEOUT = project_env("RECAPTCHA_TIMEOUT", 3)
if project_env("RECAPTCHA_DOMAIN", ""):
    RECAPTCHA_DOMAIN = project_env("RECAPTCHA_DOMAIN", "")

# Every GATEHOUSE setting an environment variable may set, from the apps'
# catalogues (protection.conf.ENVIRONMENT, signup.conf.ENVIRONMENT): the
# variable's value when set, else the default. Approov secrets come only
# from here: GATEHOUSE_APPROOV_SECRET and GATEHOUSE_APPROOV_SECRET_<NAME>.
# The reference sign-up page at / is on in DEBUG (make run), off in
# production unless GATEHOUSE_SIGNUP_PAGE=1.
GATEHOUSE = gatehouse_from_environment(
    {"SIGNING_KEY": DEVELOPMENT_SIGNING_KEY, "SIGNUP_PAGE_ENABLED": DEBUG}
)
# Local exploration must not punish the developer: under DEBUG, loopback is
# never blocked automatically and its own mistakes never raise its
# proof-of-work difficulty. Production (DEBUG off) keeps both for everyone.
LOOPBACK_NETWORKS = ["127.0.0.0/8", "::1/128"]
if DEBUG:
    GATEHOUSE["AUTO_BLOCK_EXEMPT_NETWORKS"] = LOOPBACK_NETWORKS
    GATEHOUSE["POW_ESCALATION_EXEMPT_NETWORKS"] = LOOPBACK_NETWORKS

# Request bodies larger than this are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEHOUSE["MAX_BODY_BYTES"]

# --- Mail (Django's email framework; sent by the outbox, never in a request) --
# DJANGO_EMAIL_BACKEND: smtp (the default with DEBUG off), console (the
# default under DEBUG: mails are printed), file (one file per mail in
# DJANGO_EMAIL_FILE_PATH), locmem, dummy, or a dotted backend path.
_EMAIL_BACKENDS = {
    name: f"django.core.mail.backends.{name}.EmailBackend"
    for name in ("smtp", "console", "locmem", "dummy")
}
_EMAIL_BACKENDS["file"] = "django.core.mail.backends.filebased.EmailBackend"
_email_backend = project_env("DJANGO_EMAIL_BACKEND", "console" if DEBUG else "smtp")
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend.lower(), _email_backend)
if project_env("DJANGO_EMAIL_FILE_PATH", ""):
    EMAIL_FILE_PATH = project_env("DJANGO_EMAIL_FILE_PATH", "")
EMAIL_HOST = project_env("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = project_env("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = project_env("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = project_env("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = project_env("DJANGO_EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = project_env("DJANGO_EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
# Seconds: a slow mail server delays the outbox sender, never a request.
EMAIL_TIMEOUT = project_env("DJANGO_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = project_env("DJANGO_DEFAULT_FROM_EMAIL", "gatehouse@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SMS: the console sender under DEBUG unless GATEHOUSE_SMS_BACKEND says otherwise
# (protection.conf.ENVIRONMENT reads the SMS, Twilio and webhook variables).
if DEBUG and not GATEHOUSE.get("SMS_BACKEND"):
    GATEHOUSE["SMS_BACKEND"] = "console"

# --- Logging: one JSON object per line (python-json-logger) -----------------
# Every record carries time, level, logger and what protection.logcontext knows
# about the request it belongs to: request_id, client_ip, api_key (public id),
# session_id; security events add event_kind, event_decision, event_reason.
# GATEHOUSE_LOG_FORMAT=text gives plain lines for a terminal.
LOG_FORMAT = project_env("GATEHOUSE_LOG_FORMAT", "json")
# A management command (not a server) reports its own results on stdout; the
# INFO line of every event it records (a key created, a block lifted) would
# only be noise on a terminal or in a cron mail. They stay in the audit log
# (SecurityEvent rows); GATEHOUSE_LOG_LEVEL=INFO asks for the lines too.
SERVER_COMMANDS = {"runserver"}
RUNNING_COMMAND = Path(sys.argv[0]).name == "manage.py" and not (
    set(sys.argv[1:2]) & SERVER_COMMANDS
)
GATEHOUSE_LOG_LEVEL_DEFAULT = "WARNING" if RUNNING_COMMAND else "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "protection.logcontext.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            # ISO 8601 in UTC with microseconds, whatever the server's time zone.
            "timestamp": "time",
            # Django puts the request object on its own lines ("Not Found: /x"):
            # its text has the query string (an ?email=...), so it is left out.
            "reserved_attrs": [*JSON_RESERVED_ATTRS, "request"],
        },
        "text": {
            "format": "{asctime} {levelname} {name} [{request_id}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {
        "handlers": ["console"],
        "level": project_env("DJANGO_LOG_LEVEL", "WARNING"),
    },
    "loggers": {
        "gatehouse": {"level": project_env("GATEHOUSE_LOG_LEVEL", GATEHOUSE_LOG_LEVEL_DEFAULT)},
        # runserver's own request lines ("GET / HTTP/1.1" 200) in their own
        # format would repeat gatehouse.access's line: only its errors, in ours.
        "django.server": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
