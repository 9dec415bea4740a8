import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_cache(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_health_is_503_problem_when_cache_is_down_and_limits_fail_closed(client, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_CACHE_FAILURE": "closed"}
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["cache"] == "unavailable"
    assert body["database"] == "ok"
    assert body["status"] == 503  # the problem's number, not a health word
    assert response["Retry-After"] == "5"


def test_liveness_answers_without_asking_the_backing_services(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # down: liveness must not care
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    response = client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readiness_reports_database_and_cache(client):
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_readiness_is_503_naming_the_cache_when_it_is_down_and_limits_fail_closed(client, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_CACHE_FAILURE": "closed"}
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["cache"] == "unavailable"
    assert response.json()["database"] == "ok"
    assert response["Retry-After"] == "5"


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/ready"])
def test_readiness_stays_ready_while_redis_is_down_under_the_local_fallback(client, settings, path):
    # The API keeps serving on per-process counters: a Redis blip must not
    # pull every instance out of the balancer.
    assert settings.GATEHOUSE.get("RATE_LIMIT_CACHE_FAILURE", "local") == "local"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "unavailable"}
    assert response["Cache-Control"] == "no-store"


def test_readiness_is_503_when_the_database_is_down(client, monkeypatch):
    from protection.http import health

    monkeypatch.setattr(health, "database_status", lambda: "unavailable")
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready"):
        assert client.get(path).status_code == 200, path
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/api/v1/challenges").status_code == 301
