"""The settings of the sign-up API, read from the same ``GATEHOUSE`` dict.

``signup_settings.SIGNUP_X`` reads ``settings.GATEHOUSE["SIGNUP_X"]`` on each
access, falling back to ``DEFAULTS`` below. The keys are registered with
protection (``SignupConfig.ready``) so its checks know them.
"""

from typing import Any

from protection.conf import GatehouseSettings
from protection.environment import Env, Parser, boolean, one_of, whole_number_from
from protection.policyfile import REPLACE, Policy

DEFAULTS: dict[str, Any] = {
    # Region assumed for phone numbers written without a +country prefix.
    "SIGNUP_PHONE_DEFAULT_REGION": "US",
    # Longest accepted full name, in characters (after trimming).
    "SIGNUP_FULL_NAME_MAX_LENGTH": 200,
    # Lookups one anonymous session may make in its whole life.
    "SIGNUP_LOOKUPS_PER_SESSION": 5,
    # Lookups of one identifier (email or phone) from anywhere, so one address
    # cannot be probed from many IPs or keys. "count/period" (s, m, h, d).
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": "10/h",
    # Distinct identifiers looked up per client IP (IPv6: per /64) and per API
    # key. Crossing either records ``enumeration_suspected``.
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": "20/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": "1000/h",
    # Lookup limits shared by clients who do not control each other, that
    # only observe (an alert with details.dry_run, the lookup answered):
    # whoever holds a copied key could otherwise use them up for every
    # genuine client (per identifier: one address for everyone who types
    # it; distinct per key: the whole app). Remove a reason to enforce it.
    "SIGNUP_SHARED_LIMITS_OBSERVE": ["lookup_per_identifier", "lookup_distinct_per_key"],
    # Create attempts one anonymous session may make in its whole life.
    "SIGNUP_CREATES_PER_SESSION": 1,
    # Create attempts per client IP (IPv6: per /64).
    "SIGNUP_CREATE_IP_RATE": "10/d",
    # Refuse addresses at disposable-mail domains (disposable-email-domains list).
    "SIGNUP_REFUSE_DISPOSABLE_EMAIL": False,
    # How long an Idempotency-Key and its stored response are kept.
    "SIGNUP_IDEMPOTENCY_TTL": 24 * 60 * 60,
    # Serve the reference sign-up page at / (signup.page). Off unless the
    # deployment asks for it; config/settings.py turns it on under DEBUG.
    "SIGNUP_PAGE_ENABLED": False,
    # The publishable API key the page sends as X-Api-Key. Empty: the page
    # takes it from its URL fragment (#key=..., as quickstart prints it).
    "SIGNUP_PAGE_API_KEY": "",
    # The widget scripts the page loads when a challenge asks for Turnstile or
    # hCaptcha (explicit rendering). Only a provider whose site key is set
    # (GATEHOUSE_TURNSTILE_SITE_KEY, GATEHOUSE_HCAPTCHA_SITE_KEY) is offered,
    # and only its sources below are added to the page's Content-Security-Policy.
    "SIGNUP_PAGE_TURNSTILE_SCRIPT": "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit",
    "SIGNUP_PAGE_HCAPTCHA_SCRIPT": "https://js.hcaptcha.com/1/api.js?render=explicit&recaptchacompat=off",
    # CSP directive -> sources each provider's widget needs, as the providers
    # document them: Turnstile a script and a frame from challenges.cloudflare.com;
    # hCaptcha scripts, frames, styles and API calls on hcaptcha.com.
    "SIGNUP_PAGE_CAPTCHA_CSP": {
        "turnstile": {
            "script-src": ["https://challenges.cloudflare.com"],
            "frame-src": ["https://challenges.cloudflare.com"],
        },
        "hcaptcha": {
            "script-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
            "frame-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
            "style-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
            "connect-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
        },
    },
    # The name mails and SMS sign with ("Your code for <name>").
    "SIGNUP_SERVICE_NAME": "gatehouse",
    # The page a code mail's link opens, with the single-use token in its
    # fragment (``<url>#t=<token>``: fragments never reach server logs and no
    # identifier is ever in the URL). Empty: PUBLIC_BASE_URL + "/confirm";
    # both empty: the mail carries the code only.
    "SIGNUP_CONFIRM_URL": "",
    # How long (seconds) a person's creation snapshot is kept: what they came
    # with (session, device, IP prefix, network origin, evidence, verdict),
    # so a fraud label added days later still finds what to block, and
    # export_labels what to learn from. purge_expired deletes older ones (the
    # person stays). Env GATEHOUSE_PERSON_SIGNALS_RETENTION (seconds).
    "PERSON_SIGNALS_RETENTION": 90 * 24 * 3600,
    # --- Contact verification (signup.verification) ---------------------------
    # "none": POST /api/v1/persons creates the person at once (201, or 409
    # when the email or phone is taken). "email" / "phone": it answers 202
    # whether or not the address is taken, sends a code (or, for a taken
    # address, a notice to its owner) and POST /api/v1/persons/confirm
    # creates the person. "phone" needs a phone in every create and sends
    # the code by SMS.
    "SIGNUP_VERIFY": "none",
    # Seconds a code (and its link) stays valid; the 202's "expires_in".
    "SIGNUP_VERIFY_CODE_TTL": 15 * 60,
    # Wrong codes after which a pending sign-up is void.
    "SIGNUP_VERIFY_MAX_ATTEMPTS": 5,
    # Seconds after a send during which repeating the create sends nothing.
    "SIGNUP_VERIFY_RESEND_COOLDOWN": 60,
    # Sends to one address (a first code and its resends, or the requests
    # for a taken address), from any session.
    "SIGNUP_VERIFY_SENDS_PER_ADDRESS_RATE": "6/d",
    # At most one "someone tried to sign up with this address" notice per
    # address in this many seconds.
    "SIGNUP_VERIFY_NOTICE_INTERVAL": 24 * 60 * 60,
    # Confirm attempts for one email or phone, from anywhere, and from one
    # device (the session's device id, when it has one).
    "SIGNUP_CONFIRM_IDENTIFIER_RATE": "20/h",
    "SIGNUP_CONFIRM_DEVICE_RATE": "30/h",
    # --- SMS-pumping guards (signup.pumping; phone mode) ---------------------
    # Countries (ISO 3166 alpha-2) codes may be sent to; empty: every country.
    "SMS_COUNTRIES": [],
    # Code requests per phone prefix (E.164 without its last four digits),
    # per country, and per API key. A request counts whether or not the
    # number is taken (a 429 must not tell which numbers are).
    "SMS_PREFIX_RATES": ["10/h", "50/d"],
    "SMS_COUNTRY_RATE": "200/h",
    "SMS_KEY_RATE": "1000/h",
    # The conversion monitor: a prefix with at least SMS_PUMPING_MIN_SENDS
    # code requests in SMS_PUMPING_WINDOW seconds (those a budget refused
    # included: a pumping run keeps asking) and fewer than
    # SMS_PUMPING_MIN_CONFIRM_RATE of them confirmed is blocked (block kind
    # phone_prefix) for SMS_PUMPING_BLOCK_DURATION seconds, times
    # SMS_PUMPING_BLOCK_ESCALATION per earlier block of it (up to
    # SMS_PUMPING_BLOCK_MAX_DURATION).
    "SMS_PUMPING_MIN_SENDS": 20,
    "SMS_PUMPING_WINDOW": 60 * 60,
    "SMS_PUMPING_MIN_CONFIRM_RATE": 0.2,
    "SMS_PUMPING_BLOCK_DURATION": 12 * 60 * 60,
    "SMS_PUMPING_BLOCK_ESCALATION": 2,
    "SMS_PUMPING_BLOCK_MAX_DURATION": 7 * 24 * 60 * 60,
}

VERIFY_MODES = ("none", "email", "phone")


def _country_list(raw: str) -> list[str]:
    codes = [item.strip().upper() for item in raw.split(",") if item.strip()]
    for code in codes:
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 country code (US, GB…)")
    return codes


country_list = Parser("comma-separated ISO 3166 alpha-2 codes (`US,CA`)", _country_list)

# Settings an environment variable may set (see protection.conf.ENVIRONMENT).
ENVIRONMENT: dict[str, Env] = {
    "SIGNUP_PAGE_ENABLED": Env("GATEHOUSE_SIGNUP_PAGE", boolean),
    "SIGNUP_PAGE_API_KEY": Env("GATEHOUSE_SIGNUP_PAGE_API_KEY"),
    "PERSON_SIGNALS_RETENTION": Env("GATEHOUSE_PERSON_SIGNALS_RETENTION", whole_number_from(1)),
    "SIGNUP_VERIFY": Env("GATEHOUSE_SIGNUP_VERIFY", one_of(*VERIFY_MODES)),
    "SIGNUP_SERVICE_NAME": Env("GATEHOUSE_SIGNUP_SERVICE_NAME"),
    "SIGNUP_CONFIRM_URL": Env("GATEHOUSE_SIGNUP_CONFIRM_URL"),
    "SMS_COUNTRIES": Env("GATEHOUSE_SMS_COUNTRIES", country_list),
}

# Settings a policy file may set (see protection.conf.POLICY): the lookup
# and create rates, as top-level keys (signup_create_ip_rate = "10/d").
_RATE = Policy(REPLACE, "protection.core.ratelimit.rates.rate_policy_problems")
POLICY: dict[str, Policy] = {
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": _RATE,
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": _RATE,
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": _RATE,
    "SIGNUP_CREATE_IP_RATE": _RATE,
    "SIGNUP_SHARED_LIMITS_OBSERVE": Policy(
        REPLACE, "signup.limits.shared_limits_observe_policy_problems"
    ),
    "SIGNUP_VERIFY_SENDS_PER_ADDRESS_RATE": _RATE,
    "SIGNUP_CONFIRM_IDENTIFIER_RATE": _RATE,
    "SIGNUP_CONFIRM_DEVICE_RATE": _RATE,
    "SMS_COUNTRY_RATE": _RATE,
    "SMS_KEY_RATE": _RATE,
}

signup_settings = GatehouseSettings(DEFAULTS)
