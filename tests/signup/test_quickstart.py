import socket
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from protection.keys import ApiKey, api_key_verify

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_quickstart(*args: str) -> list[str]:
    out = StringIO()
    call_command("quickstart", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_quickstart_prints_a_working_demo_key_and_admin_login(settings):
    settings.DEBUG = True
    lines = run_quickstart("--port", str(free_port()))
    raw_key = lines[-1]
    assert api_key_verify(raw_key=raw_key).name == "quickstart demo"
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
    assert any("loopback" in line for line in lines)


def test_port_sets_the_printed_urls_and_the_demo_key_origins(settings):
    settings.DEBUG = True
    port = free_port()
    lines = run_quickstart("--port", str(port))
    raw_key = lines[-1]
    page_line = next(line for line in lines if "sign-up page" in line)
    assert page_line.split()[-1] == f"http://127.0.0.1:{port}/#key={raw_key}"
    assert all("8000" not in line for line in lines[:-1] if port != 8000)
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        assert api_key_verify(raw_key=raw_key, origin=origin)
    with pytest.raises(Exception, match="origin"):
        api_key_verify(raw_key=raw_key, origin="http://127.0.0.1:1")


def test_a_busy_port_fails_before_anything_changes(settings):
    settings.DEBUG = True
    first_key = run_quickstart("--port", str(free_port()))[-1]
    admin = get_user_model().objects.get(username="admin")
    with socket.socket() as running_server:
        running_server.bind(("127.0.0.1", 0))
        running_server.listen()
        busy = running_server.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {busy} is already in use.*PORT="):
            run_quickstart("--port", str(busy))
    # The running server's key and admin password still work.
    assert api_key_verify(raw_key=first_key).name == "quickstart demo"
    assert ApiKey.objects.count() == 1
    admin_after = get_user_model().objects.get(username="admin")
    assert admin_after.password == admin.password


def test_a_second_run_revokes_the_previous_demo_key(settings):
    settings.DEBUG = True
    first_key = run_quickstart("--port", str(free_port()))[-1]
    run_quickstart("--port", str(free_port()))
    assert ApiKey.objects.filter(name="quickstart demo", revoked_at__isnull=True).count() == 1
    assert get_user_model().objects.filter(username="admin").count() == 1
    with pytest.raises(Exception, match="revoked"):
        api_key_verify(raw_key=first_key)


def test_quickstart_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        run_quickstart()


def test_quickstart_says_whether_the_page_will_use_dpop(settings):
    settings.DEBUG = True
    port = free_port()
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    assert any(line.startswith("DPoP is on") for line in run_quickstart("--port", str(port)))
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": ""}
    off = next(line for line in run_quickstart("--port", str(port)) if "DPoP" in line)
    assert off.startswith("DPoP is off") and "unset" in off
