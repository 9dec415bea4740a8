"""Phone verification and its SMS-pumping guards (issue 19), through the API.

In phone mode the code goes by SMS; numbers codes must not go to are
refused; send budgets per prefix, country and key; the conversion monitor
blocks a prefix that asks for many codes and confirms few.
"""

import datetime

import pytest
from django.utils import timezone

from protection.blocks import BlockedClient, block_lift
from protection.core.events import SecurityEvent
from protection.core.outbox import OutboxMessage
from signup.models import Person
from signup.notifications import CODE_SMS, NOTICE_MAIL, NOTICE_SMS
from signup.pumping import sms_pumping_block
from tests.support.signup import person_body
from tests.support.verification import codes_for, last_code, notices_for, queued

pytestmark = pytest.mark.django_db

PENDING_SMS = b'{"status":"pending","channel":"sms","expires_in":900}'


@pytest.fixture
def phone_mode(signup_settings):
    signup_settings(SIGNUP_VERIFY="phone")


@pytest.fixture
def many_creates(signup_settings, phone_mode):
    """One caller may start many sign-ups (the limits under test are the SMS ones)."""
    signup_settings(
        SIGNUP_CREATES_PER_SESSION=10_000, SIGNUP_CREATE_IP_RATE="10000/d", RATE_LIMITS={}
    )


def _problem(response):
    return response.status_code, response.json().get("code")


def _number(prefix: str, n: int) -> str:
    return f"{prefix}{n:04d}"


def test_the_code_goes_by_sms_and_confirms_with_the_phone(make_caller, phone_mode):
    caller = make_caller()
    response = caller.create(person_body(phone="(201) 555-0123"))
    assert (response.status_code, response.content) == (202, PENDING_SMS)
    [message] = queued(CODE_SMS)
    assert message.payload["to"] == "+12015550123"
    assert message.target == "prefix:+1201555"  # what the admin counts sends per prefix by
    answer = caller.confirm({"phone": "+1 201 555 0123", "code": last_code("+12015550123")})
    assert answer.status_code == 201
    assert Person.objects.get().phone == "+12015550123"


def test_phone_mode_needs_a_phone(make_caller, phone_mode):
    response = make_caller().create(person_body())
    assert _problem(response) == (400, "invalid_request")
    assert response.json()["errors"][0]["field"] == "phone"


def test_a_taken_email_or_phone_sends_no_code_and_tells_the_owner(make_caller, phone_mode):
    Person.objects.create(email="owner@example.com", phone="+12015550100", full_name="Owner")
    taken_email = make_caller().create(person_body(email="owner@example.com", phone="+12015550111"))
    taken_phone = make_caller().create(person_body(email="new@example.com", phone="+12015550100"))
    fresh = make_caller().create(person_body(email="fresh@example.com", phone="+12015550122"))
    assert taken_email.content == taken_phone.content == fresh.content == PENDING_SMS
    assert codes_for("+12015550111") == codes_for("+12015550100") == []
    assert len(codes_for("+12015550122")) == 1
    assert [m.topic for m in notices_for("owner@example.com")] == [NOTICE_MAIL]
    assert [m.topic for m in notices_for("+12015550100")] == [NOTICE_SMS]


def test_one_notice_per_request_the_phone_s_owner_first(make_caller, phone_mode):
    Person.objects.create(email="owner@example.com", phone="+12015550100", full_name="Owner")
    Person.objects.create(email="other@example.com", full_name="Other")
    body = person_body(email="owner@example.com", phone="+12015550100")
    for _ in range(2):
        assert make_caller().create(body).content == PENDING_SMS
    # Both taken: the phone's owner is told; asked again the same day, nobody.
    assert len(notices_for("+12015550100")) == 1 and notices_for("owner@example.com") == []
    # The phone told today, a taken email not yet: the email's owner is told.
    make_caller().create(person_body(email="other@example.com", phone="+12015550100"))
    assert len(notices_for("other@example.com")) == 1
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SKIPPED).count() == 1
    assert OutboxMessage.objects.count() == 3  # one row per request, as for a code


@pytest.mark.parametrize(
    ("phone", "number_type"),
    [
        ("+19002345678", "premium_rate"),
        ("+18002345678", "toll_free"),
        ("+4918012345", "shared_cost"),
        ("+445512345678", "uan"),
        ("+445612345678", "voip"),
        ("+447640123456", "pager"),
    ],
)
def test_numbers_codes_must_not_go_to_are_refused(make_caller, phone_mode, phone, number_type):
    response = make_caller().create(person_body(phone=phone))
    assert _problem(response) == (400, "phone_not_allowed")
    assert queued() == []
    event = SecurityEvent.objects.get(kind="person_create_refused")
    assert (event.reason, event.details["number_type"]) == ("phone_not_allowed", number_type)
    assert phone not in repr(event.details)


def test_numbers_outside_the_allowed_countries_are_refused(
    make_caller, phone_mode, signup_settings
):
    signup_settings(SMS_COUNTRIES=["US", "CA"])
    response = make_caller().create(person_body(phone="+447400123456"))
    assert _problem(response) == (400, "phone_country_not_allowed")
    assert make_caller().create(person_body(phone="+12015550123")).status_code == 202
    assert SecurityEvent.objects.get(reason="phone_country_not_allowed").details["country"] == "GB"


def test_in_email_mode_a_phone_is_not_judged_as_an_sms_target(make_caller, signup_settings):
    signup_settings(SIGNUP_VERIFY="email")
    assert make_caller().create(person_body(phone="+18002345678")).status_code == 202


def test_send_budgets_per_prefix_country_and_key(make_caller, many_creates, signup_settings):
    signup_settings(SMS_PREFIX_RATES=["2/h"], SMS_COUNTRY_RATE="3/h", SMS_KEY_RATE="4/h")
    caller = make_caller()
    statuses = [
        caller.create(person_body(phone=_number("+1201555", n))).status_code for n in range(3)
    ]
    assert statuses == [202, 202, 429]
    # Another prefix of the country still gets its code, until the country's budget.
    assert caller.create(person_body(phone="+12025550123")).status_code == 202
    refused = caller.create(person_body(phone="+12035550123"))
    assert refused.status_code == 429 and "sms_per_country" in refused["RateLimit-Policy"]
    reasons = SecurityEvent.objects.filter(kind="rate_limited").values_list("reason", flat=True)
    assert list(reasons) == ["sms_per_country", "sms_per_prefix"]
    assert len(queued(CODE_SMS)) == 3
    # The key's budget, from a caller of another country.
    signup_settings(SMS_COUNTRY_RATE="100/h")
    assert caller.create(person_body(phone="+447400123456")).status_code == 202
    assert caller.create(person_body(phone="+447400123457")).status_code == 429


def test_a_pumping_run_blocks_its_prefix_and_not_a_clean_one(
    make_caller, many_creates, signup_settings
):
    signup_settings(SMS_PUMPING_MIN_SENDS=10, SMS_PREFIX_RATES=["1000/h"])
    caller = make_caller()
    # A clean prefix: people confirm their codes.
    for n in range(12):
        phone = _number("+1201556", n)
        assert caller.create(person_body(email=f"p{n}@example.com", phone=phone)).status_code == 202
        if n % 3 == 0:
            assert caller.confirm({"phone": phone, "code": last_code(phone)}).status_code == 201
    # A pumping run: hundreds of numbers of one prefix, none confirmed.
    statuses = [
        caller.create(
            person_body(email=f"x{n}@example.com", phone=_number("+1201555", n))
        ).status_code
        for n in range(200)
    ]
    assert statuses[:9] == [202] * 9
    assert statuses[9:] == [403] * 191  # the 10th crossed the monitor; then the block refuses
    block = BlockedClient.objects.get(kind="phone_prefix")
    assert (block.value, block.created_by_rule) == ("+1201555", "sms-pumping")
    assert block.expires_at - block.created_at == datetime.timedelta(hours=12)
    alert = SecurityEvent.objects.get(kind="sms_pumping_suspected")
    assert alert.details == {"phone_prefix": "+1201555", "sends": 10, "confirms": 0}
    assert SecurityEvent.objects.filter(kind="client_blocked", decision="alert").count() == 1
    assert len(codes_for(_number("+1201555", 0))) == 1 and len(queued(CODE_SMS)) == 12 + 9
    # The clean prefix goes on.
    phone = _number("+1201556", 99)
    assert caller.create(person_body(email="late@example.com", phone=phone)).status_code == 202
    assert not BlockedClient.objects.filter(value="+1201556").exists()


def test_pumping_blocks_escalate(db):
    now = timezone.now()
    first = sms_pumping_block(prefix="+1201555", now=now)
    assert sms_pumping_block(prefix="+1201555", now=now) is None  # one block, not two
    block_lift(block=first, now=now)
    second = sms_pumping_block(prefix="+1201555", now=now)
    assert second.expires_at - now == datetime.timedelta(hours=24)
