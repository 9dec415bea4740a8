"""The OpenAPI document, for module-scoped fixtures."""

import time
from typing import Any


def schema_document(django_db_blocker: Any) -> dict[str, Any]:
    """``GET /api/schema/`` as JSON, fetched outside any test's transaction.

    Whatever the request writes there is committed for every later test, so
    the network-origin data's once-an-hour ``netintel_stale`` alert (no data
    is loaded in tests) is marked as sent first: it would be one event more
    in whichever test counts events next.
    """
    from rest_framework.test import APIClient

    from protection.netintel.registry import stale_alert

    stale_alert.due(time.monotonic())
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"}, secure=True)
    assert response.status_code == 200
    return response.json()
