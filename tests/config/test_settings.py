"""Settings come from the environment; checked in a fresh interpreter per case."""

import json

import pytest

from tests.support.fresh_interpreter import PRODUCTION_ENV, run_python

pytestmark = pytest.mark.subprocess  # each starts a Python process: not in make test-fast

PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
    "'db_options': s.DATABASES['default'].get('OPTIONS', {}), "
    "'conn_max_age': s.DATABASES['default'].get('CONN_MAX_AGE'), "
    "'health_checks': s.DATABASES['default'].get('CONN_HEALTH_CHECKS'), "
    "'cache': s.CACHES['default']['BACKEND'], "
    "'cache_options': s.CACHES['default'].get('OPTIONS', {}), "
    "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, "
    "'proxies': s.GATEHOUSE['TRUSTED_PROXIES']}, default=str))"
)


def settings_with(**env: str) -> dict:
    result = run_python(PRINT_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_set_means_sqlite_local_memory_and_debug_off():
    values = settings_with()
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["debug"] is False
    assert values["proxies"] == 0


def test_database_url_selects_postgres_with_persistent_checked_connections():
    values = settings_with(DATABASE_URL="postgres://u@db.example:5432/gatehouse")
    assert values["db"] == "django.db.backends.postgresql"
    assert values["conn_max_age"] == 60
    assert values["health_checks"] is True
    assert values["db_options"]["connect_timeout"] == 3


def test_redis_url_selects_redis_with_short_timeouts():
    values = settings_with(REDIS_URL="redis://127.0.0.1:6379/3")
    # Django's RedisCache with a client that also speaks Sentinel and Cluster.
    assert values["cache"] == "protection.core.rediscache.GatehouseRedisCache"
    assert values["cache_options"]["mode"] == "single"
    assert values["cache_options"]["socket_timeout"] <= 0.5
    assert values["cache_options"]["socket_connect_timeout"] <= 0.5


def test_debug_allowed_hosts_and_proxies_come_from_env():
    values = settings_with(
        DJANGO_DEBUG="1", DJANGO_ALLOWED_HOSTS="a.example, b.example", GATEHOUSE_TRUSTED_PROXIES="2"
    )
    assert values["debug"] is True
    assert values["hosts"] == ["a.example", "b.example"]
    assert values["proxies"] == 2


def test_check_deploy_passes_without_warnings_with_real_settings(tmp_path):
    # A database of its own: the checkout's var/ (migrated by `make run`, without
    # network-origin data) would add protection.W120, which is about data.
    result = run_python(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **PRODUCTION_ENV,
        GATEHOUSE_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "check_id"),
    [("DJANGO_SECRET_KEY", "protection.E002"), ("GATEHOUSE_SIGNING_KEY", "protection.E001")],
)
def test_check_deploy_flags_development_secrets(missing, check_id):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_python(
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy'])",
        **env,
    )
    assert result.returncode != 0
    assert check_id in result.stderr


def test_check_deploy_flags_local_memory_cache():
    # Allowed on purpose (a single process): still a warning (without it, E220).
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}
    env["GATEHOUSE_ALLOW_LOCAL_CACHE"] = "1"
    result = run_python(
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **env,
    )
    assert result.returncode != 0
    assert "protection.W001" in result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "GATEHOUSE_SIGNING_KEY"])
def test_production_start_with_development_secret_is_refused(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_python("import config.wsgi", **env)
    assert result.returncode == 4
    assert "gatehouse: refusing to start: DEBUG is off" in result.stderr
    assert missing in result.stderr
    assert "Traceback" not in result.stderr


# The server starts on a migrated database only (the startup guard says "run migrate").
MIGRATE_THEN_START = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('migrate', verbosity=0); import config.wsgi; print('started')"
)


def test_production_start_with_real_secrets_succeeds(tmp_path):
    result = run_python(MIGRATE_THEN_START, **PRODUCTION_ENV, GATEHOUSE_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_development_start_is_allowed_with_debug_on(tmp_path):
    result = run_python(MIGRATE_THEN_START, DJANGO_DEBUG="1", GATEHOUSE_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_a_rate_that_does_not_parse_is_a_startup_error(settings):
    from django.core import checks

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "SIGNUP_CREATE_IP_RATE": "1000000000/d",  # ten digits
        "RATE_LIMITS": {"lookup": {"ip": ["ten/m"]}},
    }
    errors = [e for e in checks.run_checks() if e.id == "protection.E005"]
    assert len(errors) == 2
    assert "SIGNUP_CREATE_IP_RATE" in errors[1].msg or "SIGNUP_CREATE_IP_RATE" in errors[0].msg


CHECK_DEPLOY = (
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['manage.py', 'check', '--deploy'])"
)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "flase"),
        ("DJANGO_HSTS_SECONDS", "1y"),
        ("DJANGO_HSTS_SECONDS", "-5"),
        ("GATEHOUSE_TRUSTED_PROXIES", "two"),
        ("GATEHOUSE_MAX_BODY_BYTES", "16k"),
        ("GATEHOUSE_METRICS_NETWORKS", "10.0.0.0/8,not-a-network"),
        ("GATEHOUSE_TRUSTED_PROXY_NETWORKS", "10.0.0.0/33"),
        ("GATEHOUSE_LOG_LEVEL", "LOUD"),
        ("GATEHOUSE_LOG_FORMAT", "xml"),
        ("DATABASE_URL", "postgress//nowhere"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(name, value):
    result = run_python(CHECK_DEPLOY, **{**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert name in last_line, result.stderr[-2000:]


def test_booleans_and_numbers_still_read_their_usual_spellings():
    values = settings_with(DJANGO_DEBUG="yes", GATEHOUSE_TRUSTED_PROXIES=" 1 ")
    assert values["debug"] is True
    assert values["proxies"] == 1
    assert settings_with(DJANGO_DEBUG="")["debug"] is False  # empty = unset


def test_metrics_networks_come_from_env():
    result = run_python(
        "import django; django.setup(); from protection.conf import gatehouse_settings as g; "
        "print(g.METRICS_NETWORKS)",
        GATEHOUSE_METRICS_NETWORKS="10.9.0.0/16, 2001:db8::/32",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['10.9.0.0/16', '2001:db8::/32']"


LOG_ONE_LINE = (
    "import django, logging; django.setup(); "
    "from protection.logcontext import log_context_open; "
    "ctx = log_context_open(request_id='req-7', client_ip='192.0.2.1'); ctx.__enter__(); "
    "logging.getLogger('gatehouse.test').warning('hello %s', 'there')"
)


def test_log_lines_are_json_by_default():
    result = run_python(LOG_ONE_LINE)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello there"
    assert (line["level"], line["logger"]) == ("WARNING", "gatehouse.test")
    assert (line["request_id"], line["client_ip"]) == ("req-7", "192.0.2.1")
    assert line["api_key"] is None and line["session_id"] is None


def test_text_log_lines_for_a_terminal():
    result = run_python(LOG_ONE_LINE, GATEHOUSE_LOG_FORMAT="text")
    assert result.returncode == 0, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("WARNING gatehouse.test [req-7] hello there")
    )


def test_the_policy_file_and_approov_secrets_come_from_env(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[rate_limits.lookup]\nip = ["3/m"]\n')
    result = run_python(
        "import django; django.setup(); from protection.conf import gatehouse_settings as g; "
        "print(g.POLICY_FILE, g.RATE_LIMITS['lookup']['ip'], sorted(g.APPROOV_SECRETS))",
        GATEHOUSE_POLICY_FILE=str(policy),
        GATEHOUSE_APPROOV_SECRET_IOS_APP="a" * 44,
        GATEHOUSE_APPROOV_SECRET_EMPTY="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(policy), "['3/m']", "['ios_app']"]
