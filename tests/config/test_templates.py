"""The project's own templates: error pages in the sign-up page's look, the admin's branding."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import path

pytestmark = pytest.mark.django_db


def refuse_with_403(request):
    raise PermissionDenied


def refuse_with_400(request):
    raise SuspiciousOperation("a malformed request")


def crash(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("forbidden", refuse_with_403),
    path("bad", refuse_with_400),
    path("crash", crash),
    path("api/v1/crash", crash),
]


@pytest.fixture
def pages(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    ("url", "status", "heading"),
    [
        ("/no/such/page", 404, "Page not found"),
        ("/forbidden", 403, "You cannot open this page"),
        ("/bad", 400, "This request could not be understood"),
        ("/crash", 500, "Something went wrong on our side"),
    ],
)
def test_html_pages_get_the_projects_error_page(pages, url, status, heading):
    response = pages.get(url)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert f"<h1>{heading}</h1>" in page
    assert f"Error {status}" in page
    assert 'class="card"' in page and "--accent: #2456d6" in page  # the sign-up page's look
    assert "a bug" not in page and "malformed request" not in page and "Traceback" not in page


def test_api_paths_stay_problem_json(pages):
    response = pages.get("/api/v1/crash")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"


def test_a_failed_csrf_check_gets_the_projects_page(settings, django_user_model):
    settings.DEBUG = False
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_the_admin_carries_the_projects_branding(client):
    page = client.get("/admin/login/").content.decode()
    assert "gatehouse administration" in page
    assert "| gatehouse admin</title>" in page
    assert "Django administration" not in page
