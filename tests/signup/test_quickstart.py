from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from protection.keys import ApiKey, api_key_verify

pytestmark = pytest.mark.django_db


def run_quickstart() -> list[str]:
    out = StringIO()
    call_command("quickstart", stdout=out)
    return out.getvalue().strip().splitlines()


def test_quickstart_prints_a_working_demo_key_and_admin_login(settings):
    settings.DEBUG = True
    lines = run_quickstart()
    raw_key = lines[-1]
    assert api_key_verify(raw_key=raw_key, origin="http://127.0.0.1:8000").name == "quickstart demo"
    assert any("/api/docs/" in line for line in lines)
    admin_line = next(line for line in lines if "/admin/" in line)
    password = admin_line.split("password ")[1].split(",")[0]
    # Through the real login form: django-axes needs the request (client.login has none).
    browser = Client()
    response = browser.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": password}
    )
    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_a_second_run_revokes_the_previous_demo_key(settings):
    settings.DEBUG = True
    first_key = run_quickstart()[-1]
    run_quickstart()
    assert ApiKey.objects.filter(name="quickstart demo", revoked_at__isnull=True).count() == 1
    assert get_user_model().objects.filter(username="admin").count() == 1
    with pytest.raises(Exception, match="revoked"):
        api_key_verify(raw_key=first_key)


def test_quickstart_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        run_quickstart()
