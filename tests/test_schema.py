"""The OpenAPI document and its browsable docs are served by this server, no CDN."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_and_lists_the_health_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/health" in document["paths"]


def test_docs_page_loads_its_assets_from_this_server(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in asset for asset in assets)
    for asset in assets:
        assert not asset.startswith(("http://", "https://", "//")), asset


def test_swagger_ui_assets_are_served_with_debug_off(client, settings):
    settings.DEBUG = False
    html = client.get("/api/docs/").content.decode()
    bundle = next(a for a in re.findall(r'src="([^"]+)"', html) if "bundle" in a)
    response = client.get(bundle)
    assert response.status_code == 200


def test_schema_generates_and_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/persons/lookup" in target.read_text()
