"""DEBUG (make run) settings that keep local exploration from fighting the developer."""

import json

import pytest

from tests.support.fresh_interpreter import PRODUCTION_ENV, run_python

pytestmark = pytest.mark.subprocess  # each starts a Python process: not in make test-fast

PRINT_GATEHOUSE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({name: s.GATEHOUSE.get(name) for name in ("
    "'AUTO_BLOCK_EXEMPT_NETWORKS', 'POW_ESCALATION_EXEMPT_NETWORKS', "
    "'SIGNUP_PAGE_ENABLED', 'SIGNUP_PAGE_API_KEY')}))"
)


def gatehouse_with(**env: str) -> dict:
    result = run_python(PRINT_GATEHOUSE, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_debug_exempts_loopback_and_serves_the_page():
    values = gatehouse_with(DJANGO_DEBUG="1")
    for name in ("AUTO_BLOCK_EXEMPT_NETWORKS", "POW_ESCALATION_EXEMPT_NETWORKS"):
        assert set(values[name]) == {"127.0.0.0/8", "::1/128"}
    assert values["SIGNUP_PAGE_ENABLED"] is True


def test_production_exempts_nobody_and_hides_the_page_unless_asked():
    values = gatehouse_with(**PRODUCTION_ENV)
    assert values["AUTO_BLOCK_EXEMPT_NETWORKS"] is None  # conf.py default: []
    assert values["POW_ESCALATION_EXEMPT_NETWORKS"] is None
    assert values["SIGNUP_PAGE_ENABLED"] is False
    values = gatehouse_with(
        **PRODUCTION_ENV,
        GATEHOUSE_SIGNUP_PAGE="1",
        GATEHOUSE_SIGNUP_PAGE_API_KEY="gh_pub_example",
    )
    assert values["SIGNUP_PAGE_ENABLED"] is True
    assert values["SIGNUP_PAGE_API_KEY"] == "gh_pub_example"
