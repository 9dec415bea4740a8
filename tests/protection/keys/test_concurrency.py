"""Rotations racing on real PostgreSQL row locks produce exactly one successor."""

import threading

import pytest
from django.db import connection

from protection.base.exceptions import ProtectionError
from protection.keys import ApiKey, api_key_create, api_key_rotate


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_rotations_produce_one_successor():
    old, _ = api_key_create(name="racy")
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[str] = []
    lock = threading.Lock()

    def rotate() -> None:
        try:
            barrier.wait()
            try:
                new, raw = api_key_rotate(api_key=ApiKey.objects.get(pk=old.pk))
                outcome = f"rotated:{new.public_id}"
            except ProtectionError as exc:
                outcome = exc.code
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rotated = [r for r in results if r.startswith("rotated:")]
    assert len(rotated) == 1
    assert sorted(set(results) - set(rotated)) == ["api_key_already_rotated"]
    assert list(ApiKey.objects.filter(replaces=old).values_list("public_id", flat=True)) == [
        rotated[0].split(":")[1]
    ]
