"""Races against the real database: real threads, each with its own connection.

PostgreSQL only: SQLite serialises writers with a file lock, which hides
exactly the interleavings these tests exist to exercise.
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from protection.core.events import SecurityEvent
from signup.idempotency import IdempotencyRecord
from signup.pending import PendingSignup
from signup.persons import Person
from tests.support.signup import SignupCaller, person_body
from tests.support.verification import last_code

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12


def _race(callers: list[SignupCaller], send: Callable[[SignupCaller], Any]) -> list[Any]:
    """Run ``send`` for every caller at the same instant; return the responses."""
    barrier = threading.Barrier(len(callers))
    responses: list[Any] = [None] * len(callers)

    def run(index: int, caller: SignupCaller) -> None:
        caller.client.raise_request_exception = False
        try:
            barrier.wait(timeout=10)
            responses[index] = send(caller)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(response is not None for response in responses)
    return responses


def test_concurrent_creates_of_one_email_one_201_the_rest_409(make_caller, generous_limits):
    callers = [make_caller() for _ in range(THREADS)]
    responses = _race(
        callers,
        lambda c: c.create(person_body(email="  Race@EXAMPLE.com", full_name=f"n{id(c)}")),
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: THREADS - 1}
    assert Person.objects.filter(email="Race@example.com").count() == 1
    assert SecurityEvent.objects.filter(kind="person_created").count() == 1
    assert SecurityEvent.objects.filter(
        kind="person_create_refused", reason="conflict"
    ).count() == (THREADS - 1)


def test_concurrent_creates_of_one_phone_one_201_the_rest_409(make_caller, generous_limits):
    callers = [make_caller() for _ in range(THREADS)]
    responses = _race(
        callers,
        lambda c: c.create(person_body(email=f"p{id(c)}@example.com", phone="(201) 555-0123")),
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: THREADS - 1}
    assert Person.objects.filter(phone="+12015550123").count() == 1


def test_concurrent_retries_with_one_idempotency_key_create_once(
    make_caller, make_api_key, signup_settings
):
    # Endpoint throttles off (12 requests from one session at once would be
    # refused); the one-create-per-session quota stays: replays must pass it.
    signup_settings(RATE_LIMITS={})
    key = make_api_key()
    # One client retrying from several connections of the same session.
    first = make_caller(api_key=key)
    callers = [
        SignupCaller(
            client=type(first.client)(),
            api_key=first.api_key,
            raw_key=first.raw_key,
            issued=first.issued,
        )
        for _ in range(THREADS)
    ]
    responses = _race(callers, lambda c: c.create(person_body(), idempotency_key="retry-1"))
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == THREADS - 1
    assert Person.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="person_created").count() == 1


def test_concurrent_idempotent_creates_from_many_sessions_of_one_email(
    make_caller, make_api_key, generous_limits
):
    key = make_api_key()
    callers = [make_caller(api_key=key) for _ in range(THREADS)]
    responses = _race(callers, lambda c: c.create(person_body(), idempotency_key=f"k-{id(c)}"))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: THREADS - 1}
    assert IdempotencyRecord.objects.count() == THREADS


def test_concurrent_creates_from_one_session_respect_its_quota(make_caller, signup_settings):
    signup_settings(SIGNUP_CREATE_IP_RATE="1000/d")
    first = make_caller()
    callers = [
        SignupCaller(
            client=type(first.client)(),
            api_key=first.api_key,
            raw_key=first.raw_key,
            issued=first.issued,
        )
        for _ in range(THREADS)
    ]
    responses = _race(callers, lambda c: c.create(person_body(email=f"q{id(c)}@example.com")))
    assert Counter(r.status_code for r in responses) == {201: 1, 429: THREADS - 1}
    assert Person.objects.count() == 1


@pytest.mark.redis
def test_concurrent_creates_of_one_mailbox_admit_exactly_its_limit(
    make_caller, make_api_key, generous_limits, signup_settings
):
    # Twelve variants of one Gmail inbox at once, from twelve sessions: the
    # conditional increment admits exactly three, whichever they are.
    signup_settings(RATE_LIMITS={"create": {"mailbox": ["3/d"]}}, RATE_LIMITS_OBSERVE=[])
    key = make_api_key()
    callers = [make_caller(api_key=key) for _ in range(THREADS)]
    emails = {
        id(c): f"j.o.hn+{n}@{'gmail' if n % 2 else 'googlemail'}.com" for n, c in enumerate(callers)
    }
    responses = _race(callers, lambda c: c.create(person_body(email=emails[id(c)])))
    assert Counter(r.status_code for r in responses) == {201: 3, 429: THREADS - 3}
    assert Person.objects.count() == 3
    assert SecurityEvent.objects.filter(kind="rate_limited", reason="create:mailbox").count() == (
        THREADS - 3
    )


# --- Verification mode (issue 19) ------------------------------------------------------


def _same_session(caller: SignupCaller, count: int) -> list[SignupCaller]:
    """``count`` clients of ``caller``'s one session (each thread its own client)."""
    return [
        SignupCaller(APIClient(), caller.api_key, caller.raw_key, caller.issued)
        for _ in range(count)
    ]


def test_concurrent_sign_ups_in_one_session_leave_one_pending(
    make_caller, generous_limits, signup_settings
):
    signup_settings(SIGNUP_VERIFY="email")
    callers = _same_session(make_caller(), THREADS)
    responses = _race(callers, lambda c: c.create(person_body(email=f"p{id(c)}@example.com")))
    assert Counter(r.status_code for r in responses) == {202: THREADS}
    assert PendingSignup.objects.count() == 1  # the session's one pending sign-up


def test_concurrent_confirms_of_one_code_create_one_person(
    make_caller, generous_limits, signup_settings
):
    signup_settings(SIGNUP_VERIFY="email")
    caller = make_caller()
    caller.create(person_body())
    code = last_code("ada@example.com")
    responses = _race(
        _same_session(caller, THREADS),
        lambda c: c.confirm({"email": "ada@example.com", "code": code}),
    )
    statuses = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert statuses == {(201, None): 1, (400, "verification_expired"): THREADS - 1}
    assert Person.objects.count() == 1


def test_concurrent_wrong_codes_are_each_counted(make_caller, generous_limits, signup_settings):
    signup_settings(SIGNUP_VERIFY="email")
    caller = make_caller()
    caller.create(person_body())
    code = last_code("ada@example.com")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    responses = _race(
        _same_session(caller, THREADS),
        lambda c: c.confirm({"email": "ada@example.com", "code": wrong}),
    )
    statuses = Counter(r.json()["code"] for r in responses)
    # Five are judged wrong; the pending sign-up is void for the rest.
    assert statuses == {"verification_code_invalid": 5, "verification_expired": THREADS - 5}
    assert caller.confirm({"email": "ada@example.com", "code": code}).status_code == 400
