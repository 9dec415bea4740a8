"""Contact verification by email (issue 19), through the API.

With ``SIGNUP_VERIFY=email`` a create answers 202 and the same bytes for a
new and a taken address; the new one gets a code (and a link), the taken
one's owner a notice; ``POST /api/v1/persons/confirm`` creates the person.
Codes are read from the outbox as the recipient would read them.
"""

import datetime
import re
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from protection.core.events import SecurityEvent
from protection.core.outbox import OutboxMessage
from signup.limits import Asker
from signup.models import PendingSignup, Person
from signup.notifications import CODE_MAIL, NOTICE_MAIL
from signup.services import person_create_input
from signup.verifylimits import _notice_key, verify_items
from tests.support.cache import cache_clear
from tests.support.signup import person_body
from tests.support.verification import codes_for, last_code, link_token, notices_for, queued

pytestmark = pytest.mark.django_db

PENDING_BODY = b'{"status":"pending","channel":"email","expires_in":900}'


@pytest.fixture
def email_mode(signup_settings):
    signup_settings(SIGNUP_VERIFY="email", PUBLIC_BASE_URL="https://signup.example")


def _problem(response):
    return response.status_code, response.json().get("code")


def _another(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _cooldown_passes(caller, body):
    """Forget the cooldown claim of ``body`` in ``caller``'s session, as its
    minute passing would (the claim lives in the shared cache)."""
    data = person_create_input(api_key=caller.api_key, **body)
    asker = Asker(caller.api_key.public_id, caller.issued.session, caller.remote_addr)
    [claim] = [item for name, item in verify_items(data, asker) if name == "cooldown"]
    cache.delete(claim.key)


def test_a_new_address_gets_a_code_and_the_confirm_creates_the_person(make_caller, email_mode):
    caller = make_caller()
    response = caller.create(person_body(phone="+12015550123"))
    assert response.status_code == 202
    assert response.content == PENDING_BODY
    assert Person.objects.count() == 0
    code = last_code("ada@example.com")
    assert re.fullmatch(r"\d{6}", code)

    confirmed = caller.confirm({"email": " ada@EXAMPLE.com", "code": code})
    assert confirmed.status_code == 201
    person = Person.objects.get()
    assert confirmed.json() == {
        "id": str(person.id),
        "email": "ada@example.com",
        "phone": "+12015550123",
        "full_name": "Ada Lovelace",
        "created_at": confirmed.json()["created_at"],
    }
    assert person.created_by_key == caller.api_key
    assert person.created_in_session == caller.issued.session.id
    assert PendingSignup.objects.count() == 0
    # Single use.
    assert _problem(caller.confirm({"email": "ada@example.com", "code": code})) == (
        400,
        "verification_expired",
    )


def test_without_verification_a_create_is_still_201_and_409(make_caller):
    assert make_caller().create(person_body()).status_code == 201
    assert make_caller().create(person_body()).status_code == 409
    assert queued() == []


def test_a_taken_address_gets_the_same_answer_and_statements_and_its_owner_a_notice(
    make_caller, email_mode, monkeypatch
):
    Person.objects.create(email="taken@example.com", full_name="The Owner")
    caller = make_caller()
    caller.lookup({"email": "warm@example.com"})  # process memos loaded before measuring
    frozen = time.time()  # the RateLimit fields' "t" counts seconds to the window's end
    monkeypatch.setattr(time, "time", lambda: frozen)
    answers = []
    for email, told_today in (
        ("new@example.com", False),
        ("taken@example.com", False),
        ("taken@example.com", True),  # asked again: its owner had the day's notice
    ):
        cache_clear()  # the caller's counters in the same state for each
        if told_today:
            cache.set(_notice_key(email), 1, 3600)
        with CaptureQueriesContext(connection) as queries:
            response = caller.create(person_body(email=email, full_name="Someone"))
        answers.append((response, [_statement(query["sql"]) for query in queries]))
    (new, new_statements), *taken_answers = answers
    assert new.status_code == 202 and new.content == PENDING_BODY
    assert "RateLimit" in _headers(new)
    for taken, taken_statements in taken_answers:
        assert (taken.status_code, taken.content) == (202, PENDING_BODY)
        assert _headers(taken) == _headers(new)
        assert taken_statements == new_statements
    assert len(codes_for("new@example.com")) == 1
    assert codes_for("taken@example.com") == []
    [notice] = notices_for("taken@example.com")  # one: the second was written skipped
    assert notice.topic == NOTICE_MAIL
    skipped = OutboxMessage.objects.get(status=OutboxMessage.Status.SKIPPED)
    assert (skipped.topic, skipped.payload, skipped.last_error) == (
        NOTICE_MAIL,
        {},
        "told today already",
    )


def _headers(response):
    return {name: value for name, value in response.items() if name != "X-Request-ID"}


def _statement(sql: str) -> str:
    """A statement's verb and table: the parameters (addresses, ids) differ, the work not."""
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
    return f"{verb} {table.group(1) if table else ''}"


def test_a_taken_address_never_confirms_and_answers_like_a_wrong_code(
    make_caller, email_mode, monkeypatch
):
    monkeypatch.setattr("signup.verification.secrets.randbelow", lambda n: 123456)
    Person.objects.create(email="taken@example.com", full_name="The Owner")
    attacker = make_caller()
    assert attacker.create(person_body(email="taken@example.com")).status_code == 202
    pending = PendingSignup.objects.get()
    # Nothing personal is kept for it, and its code (123456 here) was never sent.
    assert (pending.email, pending.phone, pending.full_name) == ("", "", "")
    for _ in range(5):
        answer = attacker.confirm({"email": "taken@example.com", "code": "123456"})
        assert _problem(answer) == (400, "verification_code_invalid")
    answer = attacker.confirm({"email": "taken@example.com", "code": "123456"})
    assert _problem(answer) == (400, "verification_expired")
    assert Person.objects.count() == 1
    # The same code confirms a new address: it is the address, not the code.
    newcomer = make_caller()
    assert newcomer.create(person_body(email="new@example.com")).status_code == 202
    assert newcomer.confirm({"email": "new@example.com", "code": "123456"}).status_code == 201


def test_five_wrong_codes_void_the_pending_sign_up(make_caller, email_mode):
    caller = make_caller()
    caller.create(person_body())
    code = last_code("ada@example.com")
    for attempt in range(1, 6):
        answer = caller.confirm({"email": "ada@example.com", "code": _another(code)})
        assert _problem(answer) == (400, "verification_code_invalid"), attempt
    assert PendingSignup.objects.get().attempts == 5
    assert _problem(caller.confirm({"email": "ada@example.com", "code": code})) == (
        400,
        "verification_expired",
    )
    assert Person.objects.count() == 0
    refusals = SecurityEvent.objects.filter(kind="verification_failed")
    assert sorted(refusals.values_list("reason", flat=True)) == [
        "verification_code_invalid"
    ] * 5 + ["verification_expired"]
    assert all(event.decision == "deny" for event in refusals)


def test_an_expired_code_is_void(make_caller, email_mode):
    caller = make_caller()
    caller.create(person_body())
    PendingSignup.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    answer = caller.confirm({"email": "ada@example.com", "code": last_code("ada@example.com")})
    assert _problem(answer) == (400, "verification_expired")
    assert Person.objects.count() == 0


def test_repeating_the_create_is_the_resend_within_the_session_quota(make_caller, email_mode):
    caller = make_caller()  # one create per session (SIGNUP_CREATES_PER_SESSION = 1)
    body = person_body()
    assert caller.create(body, idempotency_key="first").content == PENDING_BODY
    first = last_code("ada@example.com")
    # Within the cooldown: the same answer, nothing sent, nothing refused.
    repeat = caller.create(body, idempotency_key="second")
    assert (repeat.status_code, repeat.content) == (202, PENDING_BODY)
    assert codes_for("ada@example.com") == [first]
    # After it: one new code, and the old one is dead.
    _cooldown_passes(caller, body)
    assert caller.create(body, idempotency_key="third").status_code == 202
    assert len(codes_for("ada@example.com")) == 2
    second = last_code("ada@example.com")
    if second != first:
        old = caller.confirm({"email": "ada@example.com", "code": first})
        assert _problem(old) == (400, "verification_code_invalid")
    assert caller.confirm({"email": "ada@example.com", "code": second}).status_code == 201
    # Another sign-up in the same session is a second create: refused.
    other = caller.create(person_body(email="grace@example.com"))
    assert (other.status_code, other.json()["code"]) == (429, "rate_limited")
    assert "create_per_session" in other["RateLimit-Policy"]


def test_sends_to_one_address_are_capped_alike_for_a_new_and_a_taken_address(
    make_caller, email_mode, signup_settings
):
    signup_settings(SIGNUP_VERIFY_SENDS_PER_ADDRESS_RATE="3/d")
    Person.objects.create(email="taken@example.com", full_name="The Owner")
    for email in ("new@example.com", "taken@example.com"):
        statuses = [make_caller().create(person_body(email=email)).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429], email
    assert len(codes_for("new@example.com")) == 3
    # At most one notice per address per day.
    assert len(notices_for("taken@example.com")) == 1
    refused = SecurityEvent.objects.filter(kind="rate_limited", reason="verify_sends_per_address")
    assert refused.count() == 2


def test_the_mail_link_confirms_from_any_session_with_the_create_s_record(make_caller, email_mode):
    starter = make_caller(remote_addr="198.51.100.23")
    starter.create(person_body())
    token = link_token("ada@example.com")
    assert "ada" not in token and "@" not in token
    started = SecurityEvent.objects.get(kind="verification_started")
    # Another tab, another session of the same app, another network.
    other = make_caller(api_key=(starter.api_key, starter.raw_key), remote_addr="203.0.113.99")
    confirmed = other.confirm({"token": token})
    assert confirmed.status_code == 201
    person = Person.objects.get()
    assert person.created_in_session == starter.issued.session.id
    assert person.created_by_key == starter.api_key
    created = SecurityEvent.objects.get(kind="person_created")
    assert created.client_ip == "198.51.100.0"  # the create's network, not the confirm's
    assert created.session_id == started.session_id
    assert _problem(other.confirm({"token": token})) == (400, "verification_expired")


def test_a_code_confirms_only_from_the_session_that_asked(make_caller, email_mode):
    starter = make_caller()
    starter.create(person_body())
    stranger = make_caller(api_key=(starter.api_key, starter.raw_key))
    answer = stranger.confirm({"email": "ada@example.com", "code": last_code("ada@example.com")})
    assert _problem(answer) == (400, "verification_expired")
    assert Person.objects.count() == 0


def test_idempotency_keys_replay_the_202_and_the_201(make_caller, email_mode):
    caller = make_caller()
    first = caller.create(person_body(), idempotency_key="create-1")
    replay = caller.create(person_body(), idempotency_key="create-1")
    assert (replay.status_code, replay.content) == (202, first.content)
    assert replay["Idempotent-Replayed"] == "true"
    assert len(codes_for("ada@example.com")) == 1
    code = last_code("ada@example.com")
    wrong = caller.confirm(
        {"email": "ada@example.com", "code": _another(code)}, idempotency_key="c"
    )
    assert _problem(wrong) == (400, "verification_code_invalid")
    body = {"email": "ada@example.com", "code": code}
    confirmed = caller.confirm(body, idempotency_key="confirm-1")
    again = caller.confirm(body, idempotency_key="confirm-1")
    assert confirmed.status_code == again.status_code == 201
    assert again.content == confirmed.content and again["Idempotent-Replayed"] == "true"
    assert Person.objects.count() == 1


def test_the_pending_sign_up_keeps_digests_not_secrets(make_caller, email_mode):
    caller = make_caller()
    caller.create(person_body())
    code, token = last_code("ada@example.com"), link_token("ada@example.com")
    pending = PendingSignup.objects.values().get()
    stored = repr(pending)
    assert code not in stored and token not in stored
    assert pending["client_ip_prefix"] == "203.0.113.0/24"
    assert pending["email"] == "ada@example.com"  # the person to create, nothing more
    started = SecurityEvent.objects.get(kind="verification_started")
    assert "ada" not in repr(started.details) and started.details["sent"] == "code"


def test_purge_expired_removes_pending_sign_ups(make_caller, email_mode):
    make_caller().create(person_body())
    make_caller().create(person_body(email="grace@example.com"))
    PendingSignup.objects.filter(email="ada@example.com").update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    call_command("purge_expired", verbosity=0)
    assert list(PendingSignup.objects.values_list("email", flat=True)) == ["grace@example.com"]


def test_confirm_bodies_are_strict(make_caller, email_mode):
    caller = make_caller()
    for body in (
        {"code": "123456"},
        {"email": "ada@example.com"},
        {"email": "ada@example.com", "code": "12345"},
        {"email": "ada@example.com", "code": "12345a"},
        {"email": "ada@example.com", "phone": "+12015550123", "code": "123456"},
        {"token": "abc", "code": "123456"},
        {"email": "ada@example.com", "code": "123456", "full_name": "x"},
    ):
        assert _problem(caller.confirm(body)) == (400, "invalid_request"), body
    assert not SecurityEvent.objects.filter(kind="verification_failed").exists()


def test_codes_never_travel_in_the_url(make_caller, email_mode):
    caller = make_caller()
    response = caller.client.post(
        "/api/v1/persons/confirm?code=123456", {"token": "x"}, format="json", **caller.headers()
    )
    assert _problem(response) == (400, "invalid_request")


def test_lookups_are_unchanged(make_caller, email_mode):
    Person.objects.create(email="taken@example.com", full_name="The Owner")
    assert make_caller().lookup({"email": "taken@example.com"}).content == b'{"exists":true }'


def test_the_code_mail_carries_the_link_to_the_confirm_page(make_caller, email_mode):
    make_caller().create(person_body())
    [message] = queued(CODE_MAIL)
    assert message.payload["context"]["link"].startswith("https://signup.example/confirm#t=")
    assert message.give_up_at <= PendingSignup.objects.get().expires_at
