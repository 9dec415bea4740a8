"""Production configuration that used to pass silently (issue 23, point 9).

DEBUG off on the local-memory cache started and served with per-process
counters (a limit of 30 admitted 117 across workers, one DPoP proof was
accepted four times): ``check --deploy`` now fails naming REDIS_URL and the
server refuses to start, unless GATEHOUSE_ALLOW_LOCAL_CACHE=1 says a single
process is meant; ``migrate`` and the other commands keep working. A public
base URL with a query or fragment unbound DPoP proofs from the path: refused.
"""

import pytest

from tests.support.fresh_interpreter import PRODUCTION_ENV, run_python

pytestmark = pytest.mark.subprocess  # each starts a Python process: not in make test-fast

CHECK_DEPLOY = (
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['manage.py', 'check', '--deploy'])"
)
NO_REDIS = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}


def test_check_deploy_fails_on_the_local_cache_in_production_naming_redis_url(tmp_path):
    result = run_python(CHECK_DEPLOY, GATEHOUSE_DATA_DIR=str(tmp_path), **NO_REDIS)
    assert result.returncode != 0
    assert "protection.E220" in result.stderr
    assert "REDIS_URL" in result.stderr and "GATEHOUSE_ALLOW_LOCAL_CACHE" in result.stderr


def test_the_server_refuses_to_start_on_the_local_cache_in_production(tmp_path):
    result = run_python("import config.wsgi", GATEHOUSE_DATA_DIR=str(tmp_path), **NO_REDIS)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr.lower() and "REDIS_URL" in result.stderr
    result = run_python("import config.asgi", GATEHOUSE_DATA_DIR=str(tmp_path), **NO_REDIS)
    assert result.returncode != 0 and "REDIS_URL" in result.stderr


def test_the_override_lets_a_single_process_start(tmp_path):
    migrate = (
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'migrate', '-v', '0'])"
    )
    run_python(migrate, GATEHOUSE_DATA_DIR=str(tmp_path), **NO_REDIS).check_returncode()
    result = run_python(
        "import config.wsgi; print('started')",
        GATEHOUSE_DATA_DIR=str(tmp_path),
        GATEHOUSE_ALLOW_LOCAL_CACHE="1",
        **NO_REDIS,
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_migrate_and_plain_check_keep_working_on_the_local_cache(tmp_path):
    for command in ("['manage.py', 'migrate', '-v', '0']", "['manage.py', 'check']"):
        result = run_python(
            "from django.core.management import execute_from_command_line; "
            f"execute_from_command_line({command})",
            GATEHOUSE_DATA_DIR=str(tmp_path),
            **NO_REDIS,
        )
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "url", ["https://api.example.com?x=1", "https://api.example.com/#frag", "https://a.example?"]
)
def test_a_public_base_url_with_a_query_or_fragment_is_a_check_error(url):
    result = run_python(CHECK_DEPLOY, GATEHOUSE_PUBLIC_BASE_URL=url, **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "protection.E013" in result.stderr
    assert "GATEHOUSE_PUBLIC_BASE_URL" in result.stderr
