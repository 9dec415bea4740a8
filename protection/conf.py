"""The one settings object of the protection app, and its catalogue.

Every value is read from ``settings.GATEHOUSE`` on each access, falling back
to ``DEFAULTS``, so ``override_settings(GATEHOUSE={...})`` works in tests and
nothing is copied at import time (the dict itself is looked up once until
``setting_changed`` says it was replaced). Durations are seconds.

The catalogue has three parts, each keyed by setting name: ``DEFAULTS``
(plain name -> value, with the comment above each key as its documentation),
``ENVIRONMENT`` (the settings an environment variable may set, and its
parser) and ``POLICY`` (the settings a policy file may set, and how its
value merges). A policy file (``POLICY_FILE``) is merged over the Python
settings once per process and settings change: defaults < ``GATEHOUSE`` <
the file (``protection.settingsreader``). This module is long because the
catalogue is: one key, one comment block.
"""

from typing import Any

from protection.environment import (
    Env,
    boolean,
    comma_list,
    networks,
    one_of,
    positive_number,
    whole_number,
)
from protection.policyfile import BY_NAME, DEEP, REPLACE, Policy
from protection.settingsreader import (
    REGISTERED_SETTINGS,
    GatehouseSettings,
    known_setting_names,
    policy_catalogue,
    policy_effective,
    python_setting,
    python_settings,
    setting_default,
    settings_register,
)

__all__ = [
    "DEFAULTS",
    "ENVIRONMENT",
    "POLICY",
    "REGISTERED_SETTINGS",
    "GatehouseSettings",
    "gatehouse_settings",
    "known_setting_names",
    "policy_catalogue",
    "policy_effective",
    "python_setting",
    "python_settings",
    "setting_default",
    "settings_register",
]

DEFAULTS: dict[str, Any] = {
    # Key used to sign tokens and challenges and to key the hashes of API key
    # secrets and looked-up identifiers. Separate from SECRET_KEY.
    "SIGNING_KEY": "",
    # A TOML policy file merged over these settings at start (docs/policy.md):
    # its tables are policy settings in lower case ([rate_limits.lookup],
    # [[auto_block_rules]], rate_limits_observe). Empty = no file.
    "POLICY_FILE": "",
    # Pepper for the HMAC of API key secrets. Empty = derived from SIGNING_KEY.
    # Changing it invalidates every stored API key.
    "API_KEY_PEPPER": "",
    # How many reverse proxies stand in front of gatehouse and append to
    # X-Forwarded-For. 0 = trust no forwarded header, use REMOTE_ADDR.
    "TRUSTED_PROXIES": 0,
    # X-Forwarded-For is read only from a peer (REMOTE_ADDR) in these networks,
    # so a client that reaches gatehouse directly cannot claim another address.
    # Default: loopback only (nginx on the same host). Behind a load balancer or
    # an ingress, list the networks it connects from (env
    # GATEHOUSE_TRUSTED_PROXY_NETWORKS): every private range would let any pod
    # or VM there claim any address. On the probe views (health, readiness,
    # /metrics) a peer in these networks that sends no X-Forwarded-For is the
    # client itself (a direct scrape or probe); elsewhere it is the unknown
    # client. Peers in these networks are never blocked automatically.
    "TRUSTED_PROXY_NETWORKS": ["127.0.0.0/8", "::1/128"],
    # Clients allowed to read GET /metrics (Prometheus), as CIDRs; the client
    # is resolved as everywhere (protection.base.clientip). Default: loopback
    # and private ranges.
    "METRICS_NETWORKS": [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ],
    # --- The admin door (protection.adminlogin) ---------------------------
    # Networks (CIDRs) that may reach the admin (every page under it, the
    # login included). Empty = everyone may reach the login page; logins
    # are then limited as below. Staff inside these networks are also exempt
    # from the global login budget and the short username lockout.
    "ADMIN_NETWORKS": [],
    # Login attempts (POSTs to the admin login) per client IP (IPv6 by its
    # /64, like the API), counted before any password is hashed: over them,
    # a 429 page and no hash.
    "ADMIN_LOGIN_IP_RATES": ["5/m", "30/h"],
    # Login attempts of every client outside ADMIN_NETWORKS together: a
    # bound on the password hashes (about 0.5 s of CPU each) attackers can
    # make the workers compute, however many addresses they rotate through.
    # A short window keeps a burst from occupying every worker at once.
    "ADMIN_LOGIN_GLOBAL_RATES": ["2/10s", "60/h"],
    # Failed logins of one username from anywhere before it is locked for the
    # rest of this window (short, and never extended by attempts during it);
    # per username *and* address, django-axes locks for
    # GATEHOUSE_ADMIN_LOCKOUT_HOURS after GATEHOUSE_ADMIN_LOGIN_FAILURES.
    "ADMIN_LOGIN_USERNAME_RATE": "10/15m",
    # IPv6 clients share one rate-limit bucket per prefix of this length.
    "IPV6_GROUP_PREFIX": 64,
    # Largest request body accepted under /api/ (413 above it).
    "MAX_BODY_BYTES": 16 * 1024,
    # protection.parsers.HardenedJSONParser: deepest bracket nesting and
    # longest integer literal accepted in a JSON body (400 malformed_json).
    # gatehouse's own bodies are flat; 32 levels leave room for host projects.
    "JSON_MAX_DEPTH": 32,
    "JSON_MAX_INTEGER_DIGITS": 20,
    # Anonymous sessions and their tokens (simplejwt, one pinned algorithm).
    "TOKEN_ALGORITHM": "HS256",
    "TOKEN_ISSUER": "gatehouse",
    "TOKEN_AUDIENCE": "gatehouse-signup",
    "ACCESS_TOKEN_LIFETIME": 5 * 60,
    "REFRESH_TOKEN_LIFETIME": 30 * 60,
    "SESSION_LIFETIME": 2 * 60 * 60,
    # Revocations are marked in the shared cache, where every request reads
    # them in its one round trip. The cache is trusted for this only after a
    # rebuild from the database, and at most this long (seconds) between
    # rebuilds; meanwhile (and whenever the cache is down) the database answers.
    "SESSION_MARKS_MAX_AGE": 300,
    # --- Challenges (protection.challenges) -------------------------------
    # ALTCHA v2 proof of work. The server picks a secret counter in
    # [POW_MAX_NUMBER // 2, POW_MAX_NUMBER]; the client must find it (one
    # POW_ALGORITHM derivation per try), the server verifies with two HMACs.
    "POW_ALGORITHM": "SHA-256",
    # Cost per try (iterations of POW_ALGORITHM). Raising it slows every try.
    "POW_COST": 1,
    # Default (clean client) upper bound of the secret counter: 150,000
    # tries on average, ~0.1-0.3 s in a browser (WebCrypto, workers), ~0.35 s
    # for a CPython client, while the server verifies in ~0.1 ms.
    "POW_MAX_NUMBER": 200_000,
    # Adaptive difficulty never goes above this bound (16x the default).
    "POW_MAX_NUMBER_CAP": 3_200_000,
    # Difficulty doubles for every this many recent denials of the client IP...
    "POW_DENIALS_PER_DOUBLING_IP": 3,
    # ...or of the API key as a whole (a busy key sees more bots, so higher).
    "POW_DENIALS_PER_DOUBLING_KEY": 50,
    # Key-wide pressure (the key's denials and its automatic boost) adds at
    # most this many doublings for a client with no denials of its own: risk
    # stays per client, and a flood against a key alerts staff
    # (key_abuse_suspected) instead of pricing every genuine user out.
    "POW_KEY_PRESSURE_MAX_DOUBLINGS": 1,
    # A challenge must be solved and redeemed within this many seconds.
    "CHALLENGE_LIFETIME": 120,
    # Window (seconds) over which recent denials count (protection.core.events).
    "DENIALS_WINDOW": 15 * 60,
    # reCAPTCHA (django-recaptcha client; site/secret keys are Django's
    # RECAPTCHA_PUBLIC_KEY / RECAPTCHA_PRIVATE_KEY, timeout
    # RECAPTCHA_VERIFY_REQUEST_TIMEOUT, endpoint host RECAPTCHA_DOMAIN).
    # When Google is unreachable: False = refuse (503), True = accept.
    "RECAPTCHA_FAIL_OPEN": False,
    # Hostnames a reCAPTCHA answer may come from. Empty = the hosts of the
    # API key's allowed origins; both empty = hostname not checked.
    "RECAPTCHA_HOSTNAMES": [],
    # A reCAPTCHA token is accepted once; this long (seconds) it is remembered
    # (Google's tokens live two minutes).
    "RECAPTCHA_TOKEN_LIFETIME": 120,
    # --- Turnstile and hCaptcha (protection.challenges.captcha) ---------------
    # Cloudflare Turnstile: the widget's public site key (sent to clients in the
    # challenge response as turnstile_site_key) and its secret. Environment:
    # GATEHOUSE_TURNSTILE_SITE_KEY, GATEHOUSE_TURNSTILE_SECRET. Without them,
    # keys that require turnstile are refused with 503 captcha_unavailable.
    "TURNSTILE_SITE_KEY": "",
    "TURNSTILE_SECRET": "",
    # Turnstile's siteverify endpoint (GATEHOUSE_TURNSTILE_VERIFY_URL).
    "TURNSTILE_VERIFY_URL": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    # When Cloudflare cannot be asked: False = refuse (503), True = accept.
    "TURNSTILE_FAIL_OPEN": False,
    # hCaptcha: site key (hcaptcha_site_key) and secret, from
    # GATEHOUSE_HCAPTCHA_SITE_KEY and GATEHOUSE_HCAPTCHA_SECRET.
    "HCAPTCHA_SITE_KEY": "",
    "HCAPTCHA_SECRET": "",
    # hCaptcha's siteverify endpoint (GATEHOUSE_HCAPTCHA_VERIFY_URL).
    "HCAPTCHA_VERIFY_URL": "https://api.hcaptcha.com/siteverify",
    # When hCaptcha cannot be asked: False = refuse (503), True = accept.
    "HCAPTCHA_FAIL_OPEN": False,
    # An hCaptcha token is accepted once: the keyed hash of each accepted token
    # stays in the shared cache this long (seconds), and an answer whose
    # challenge_ts is older than this is refused, so no token outlives its hash.
    "HCAPTCHA_TOKEN_LIFETIME": 300,
    # Total deadline (seconds) of one Turnstile or hCaptcha siteverify call
    # (reCAPTCHA: Django's RECAPTCHA_VERIFY_REQUEST_TIMEOUT).
    "CAPTCHA_VERIFY_TIMEOUT": 3.0,
    # Every siteverify provider (reCAPTCHA too) has a breaker per process:
    # after this many failures in a row it is not asked for CAPTCHA_BREAKER_PAUSE
    # seconds, and verifications fail closed (or open) at once meanwhile.
    "CAPTCHA_BREAKER_FAILURES": 3,
    "CAPTCHA_BREAKER_PAUSE": 10.0,
    # --- Private Access Tokens (protection.challenges.pat) --------------------
    # Issuers whose publicly verifiable tokens (type 0x0002, blind RSA 2048) are
    # accepted, as "issuer-name=token-key" strings: the token key base64url
    # exactly as the issuer directory publishes it (manage.py pat_issuer_fetch
    # prints the line). Environment: GATEHOUSE_PAT_ISSUERS, comma-separated.
    # A malformed entry is system check protection.E140. The challenges name
    # PUBLIC_BASE_URL's host as their origin.
    "PAT_ISSUERS": [],
    # A TokenChallenge (WWW-Authenticate: PrivateToken) can be redeemed once,
    # within this many seconds (its max-age).
    "PAT_CHALLENGE_LIFETIME": 300,
    # Signing key for session tokens. Empty = derived from SIGNING_KEY (with a
    # purpose label, so a token key never equals the API-key pepper).
    "TOKEN_SIGNING_KEY": "",
    # URL prefix whose errors are rendered as application/problem+json.
    "API_PREFIX": "/api/",
    # The startup guard (protection.startup, called from wsgi.py/asgi.py)
    # refuses to serve while migrations are unapplied ("run migrate"). Off only
    # where something else owns the schema and may add tables later (a test
    # harness), never to start new code before its migrations.
    "STARTUP_MIGRATION_CHECK": True,
    # Seconds a looked-up API key is reused by one process before it is read
    # again (capped at 1: revocations reach every process within a second).
    # 0 disables the cache.
    "API_KEY_CACHE_TTL": 1.0,
    # An API key's last_used_at is written at most once per this many seconds.
    "API_KEY_LAST_USED_INTERVAL": 60,
    # With DEBUG off, the servers refuse to start on a per-process cache (no
    # REDIS_URL): rate limits, replay stores and revocation marks would each be
    # kept per worker (limits admit workers x limit; a DPoP proof is accepted
    # once per worker). True says a single-process deployment on the
    # local-memory cache is meant (system check protection.E220 otherwise).
    "ALLOW_LOCAL_CACHE": False,
    # --- DPoP (protection.dpop) and Apple App Attest (protection.attestation) ---
    # Scheme, host and port clients call this API at ("https://api.example.com").
    # A DPoP proof's htu must equal this plus the request path: the Host header
    # is never trusted for it. Empty = DPoP proofs cannot be checked: they are
    # refused with 503. A malformed value is system check protection.E013.
    "PUBLIC_BASE_URL": "",
    # Signature algorithms accepted in DPoP proofs. Only asymmetric ones are
    # ever honoured (ES256, ES384, ES512, EdDSA, RS256, PS256...): "none" and
    # HS* are dropped whatever this says.
    "DPOP_ALGORITHMS": ["ES256"],
    # A proof's iat may be this many seconds before or after the server's
    # clock; its jti is remembered (shared cache) for twice as long.
    "DPOP_IAT_WINDOW": 60,
    # True = every proof must carry a server nonce (DPoP-Nonce header, RFC 9449
    # section 8); a nonce is accepted for DPOP_NONCE_LIFETIME seconds.
    "DPOP_NONCE_REQUIRED": False,
    "DPOP_NONCE_LIFETIME": 300,
    # App ids ("TEAMID.bundle.id") whose App Attest keys are accepted: the
    # authenticator data's RP id hash must be the SHA-256 of one of them.
    "APP_ATTEST_APP_IDS": [],
    # "production" or "development": which App Attest aaguid is accepted.
    # Development keys (Xcode builds) are refused in production and vice versa.
    "APP_ATTEST_ENVIRONMENT": "production",
    # PEM of the root CA attestation chains must end at. Empty = Apple's App
    # Attestation Root CA shipped with gatehouse. Tests inject their own root.
    "APP_ATTEST_ROOT_CA_PEM": "",
    # How long (seconds) a server challenge for App Attest client data is valid.
    "APP_ATTEST_CHALLENGE_LIFETIME": 300,
    # --- Rate limits (protection.core.ratelimit, protection.throttling) ---------
    # Endpoint group -> dimension -> list of rates ("count/period", period one
    # of s, m, h, d with an optional multiplier: "10/m", "100/d", "5/15m").
    # Dimensions of every group: "ip" (client IP, IPv6 by /64; counted before
    # authentication, so failed and refused requests use it up too), "key"
    # (API key public id), "session" (anonymous session id) and "asn" (the
    # client's AS number, from the network-origin data; a client without one
    # is not counted). Identity dimensions, for "lookup" and "create":
    # "mailbox" (the email's canonical mailbox: john+1@gmail.com and
    # j.ohn@googlemail.com are one), "email_domain", "phone_prefix" (E.164
    # without its last four digits) and "device" (also for "session"): an
    # attested device id or DPoP key counted across keys, a claimed device id
    # per key. Identity dimensions count what succeeded (a refused or failed
    # request spends none). Every rate of a dimension applies (several
    # windows). A view opts in with ``rate_limit_group = "<group>"``; a group
    # missing here is not limited. Per-key overrides live in
    # ``ApiKey.rate_limit_overrides`` with the same shape (any dimension but ip).
    "RATE_LIMITS": {
        "challenge": {"ip": ["30/m", "500/d"], "key": ["6000/m"]},
        "session": {"ip": ["10/m", "200/d"], "key": ["3000/m"]},
        # Refresh authenticates the key only (the session is in the body): no session dimension.
        "refresh": {"ip": ["30/m", "1000/d"], "key": ["6000/m"]},
        "lookup": {"ip": ["30/m", "500/d"], "key": ["6000/m"], "session": ["20/m", "200/d"]},
        "create": {
            "ip": ["10/m", "100/d"],
            "key": ["3000/m"],
            "session": ["5/m", "20/d"],
            "asn": ["300/h"],
            "mailbox": ["3/d"],
            "device": ["5/d"],
        },
        # Confirming a verification code (signup): a code has a million values,
        # so guesses are limited per client as well as per pending sign-up.
        "confirm": {"ip": ["30/m", "300/d"], "key": ["3000/m"], "session": ["10/m", "50/d"]},
    },
    # Every key's evidence requirement (proof of work, CAPTCHA, attestation)
    # in observe mode: failures are recorded as alerts with details.dry_run
    # and the session is issued. Per key: ApiKey.verifications_dry_run.
    "VERIFICATIONS_DRY_RUN": False,
    # Limits in observe mode ("dry run"): "group" or "group:dimension". They
    # are counted and a refusal is recorded (a rate_limited alert with
    # details.dry_run) but the request goes through; staff use it to roll a
    # limit out safely. By default the budgets shared by clients who do not
    # control each other only observe: every key-wide limit (a publishable key
    # can be copied, so whoever holds it could otherwise spend the budget of
    # every genuine client: a lever over everyone), every per-AS limit (one AS
    # is thousands of unrelated clients) and the per-domain and
    # per-phone-prefix ones (everyone at gmail.com; 10,000 numbers). Per-IP and
    # per-session limits, and the sessions' quotas, are what refuse. The strict
    # policy (deploy/policy/strict.toml) enforces the AS limits.
    "RATE_LIMITS_OBSERVE": [
        "challenge:key",
        "session:key",
        "refresh:key",
        "lookup:key",
        "create:key",
        "confirm:key",
        "challenge:asn",
        "session:asn",
        "refresh:asn",
        "lookup:asn",
        "create:asn",
        "lookup:email_domain",
        "create:email_domain",
        "lookup:phone_prefix",
        "create:phone_prefix",
    ],
    # What the limiter does when the shared cache (Redis) fails or times out:
    # "local" = fall back to per-process counters with the same rates (each
    # worker then admits up to the full rate on its own) and record one
    # "cache_unavailable" alert event per process per minute; "closed" =
    # refuse with 503 service_unavailable.
    "RATE_LIMIT_CACHE_FAILURE": "local",
    # After a cache failure, a process skips the cache for this long (seconds)
    # before trying it again, so a slow Redis costs one timeout, not one per hit.
    "RATE_LIMIT_CACHE_RETRY_AFTER": 5.0,
    # On Redis, count the limits of one request step (the middleware's per-IP
    # ones, the throttle's key/session ones, a lookup's sign-up ones) with one
    # Lua script call: one round trip, same buckets and TTLs as
    # django-ratelimit's get_usage, which costs three round trips per limit.
    # False: every limit goes through get_usage. Other caches always use it.
    # Ignored on a Redis Cluster, where only the script names tagged keys.
    "RATE_LIMIT_BATCH": True,
    # --- Read replicas (protection.core.replicas) ----------------------------
    # Where the lookup's "does this person exist" read goes: "replica" = a
    # streaming replica of DATABASE_REPLICA_URLS when one is configured, up
    # and within DATABASE_REPLICA_MAX_LAG (else the primary); "primary" =
    # always the primary. A replica may answer "not found" for a person
    # created less than its lag ago (docs/topologies.md).
    "LOOKUP_READS": "replica",
    # A replica further behind the primary than this (seconds) is skipped.
    "DATABASE_REPLICA_MAX_LAG": 5.0,
    # How often (seconds) a process measures a replica's lag; a replica that
    # failed is left alone this long too.
    "DATABASE_REPLICA_CHECK_INTERVAL": 1.0,
    # --- Blocks (protection.blocks) ----------------------------------------
    # How often (seconds) a process asks the shared cache whether the block
    # list changed (a request's own round trip also tells it); a new block
    # takes effect on every process within this (plus one reload). Without a
    # shared cache (local memory, as under `make run`) or while it is down, a
    # process reads the list's version row in the database at most once per
    # BLOCKS_DB_RELOAD_INTERVAL instead: about a second either way.
    "BLOCKS_VERSION_CHECK_INTERVAL": 0.5,
    "BLOCKS_DB_RELOAD_INTERVAL": 1.0,
    # With a shared cache, a process still reads the version row in the
    # database at least this often (seconds), in case a publication was lost.
    "BLOCKS_MAX_AGE": 60.0,
    # Hits on blocks are added up in memory and written (one UPDATE per
    # block) at most this often, in seconds; 0 = write on every hit.
    "BLOCKS_HIT_FLUSH_INTERVAL": 1.0,
    # Ended (expired or lifted) blocks are kept this long (seconds) for
    # escalation and audit before purge_expired deletes them.
    "BLOCKS_KEEP_ENDED_FOR": 30 * 24 * 3600,
    # Manual CIDR blocks broader than these prefixes (fewer bits) need
    # block_client --force / the admin's "force" box: 0.0.0.0/0 shuts everyone out.
    "BLOCKS_BROADEST_PREFIX_IPV4": 16,
    "BLOCKS_BROADEST_PREFIX_IPV6": 48,
    # --- Network origin (protection.netintel) ----------------------------------
    # Network-origin data older than this (seconds since netintel_update loaded
    # it) is not used: every client is "unknown" (decisions fail open), system
    # check protection.W121 warns and a netintel_stale alert is recorded (once
    # per process per hour). Default 14 days; schedule the update daily.
    "NETINTEL_MAX_AGE": 14 * 24 * 3600,
    # How often (seconds) a process asks the shared cache whether a new dataset
    # was loaded (a request's own round trip also tells it); without a shared
    # cache, the database is asked at most every NETINTEL_DB_CHECK_INTERVAL.
    "NETINTEL_VERSION_CHECK_INTERVAL": 5.0,
    "NETINTEL_DB_CHECK_INTERVAL": 10.0,
    # What netintel_update downloads without --from: file name -> URL (the
    # names --from reads; a .gz answer is unpacked). Point them at a mirror, or
    # add "vpn.txt" / "proxy.txt" / "hosting.txt" lists of your own.
    "NETINTEL_SOURCES": {
        "ip2asn-v4.tsv": "https://iptoasn.com/data/ip2asn-v4.tsv.gz",
        "ip2asn-v6.tsv": "https://iptoasn.com/data/ip2asn-v6.tsv.gz",
        "ip-ranges.json": "https://ip-ranges.amazonaws.com/ip-ranges.json",
        "cloud.json": "https://www.gstatic.com/ipranges/cloud.json",
        "tor.txt": "https://check.torproject.org/torbulkexitlist",
    },
    # Per download: total seconds allowed, and the largest body accepted (bytes, unpacked).
    "NETINTEL_DOWNLOAD_TIMEOUT": 120,
    "NETINTEL_DOWNLOAD_MAX_BYTES": 512 * 1024 * 1024,
    # What a request from each network class meets (the gate applies it after
    # the network blocks): "allow"; "harder" (proof-of-work difficulty times
    # POW_HARDER_FACTOR, under POW_MAX_NUMBER_CAP); "require:<evidence>" (the
    # session also needs that evidence: recaptcha, app_check, ...); "deny"
    # (403 network_refused). Classes: tor, proxy, vpn, hosting; a class not
    # listed is allowed, and so is every "unknown" client. Per key:
    # ApiKey.network_policy, class by class over this one. The policy file's
    # [network_policy] table.
    "NETWORK_POLICY": {"hosting": "harder", "vpn": "harder", "proxy": "harder", "tor": "harder"},
    # "harder" multiplies the proof-of-work difficulty by this (one factor,
    # shared with the challenge ladder's pow_hard).
    "POW_HARDER_FACTOR": 8,
    # --- The challenge ladder (protection.policy.ladder, docs/evidence.md) --------
    # What a client must show at session start, by risk tier, on top of its
    # key's required verifications (the floor: the ladder only adds). Each tier
    # is a list of evidence or "deny" (403 risk_too_high at challenge issuance
    # and session start): "pow" (proof of work), "pow_hard" (proof of work at
    # POW_HARDER_FACTOR times the client's difficulty, under POW_MAX_NUMBER_CAP),
    # "captcha" (the key's own CAPTCHA; a key without one gets proof of work at
    # POW_MAX_NUMBER_CAP), "recaptcha", "turnstile", "hcaptcha", "pat". "low"
    # adds nothing by default: a clean client shows its key's floor (pow, for a
    # key created with the defaults). "dry_run": true records what the ladder
    # would have asked (a challenge_ladder alert with details.dry_run) and asks
    # the floor only. Per key: ApiKey.challenge_ladder, tier by tier over this
    # one. The policy file's [challenge_ladder] table.
    "CHALLENGE_LADDER": {
        "low": [],
        "elevated": ["pow_hard"],
        "high": ["captcha"],
        "critical": "deny",
        "dry_run": False,
    },
    # The risk (0-100) from which a client is in each tier (below "elevated":
    # low). The policy file's [challenge_risk_thresholds] table.
    "CHALLENGE_RISK_THRESHOLDS": {"elevated": 30, "high": 60, "critical": 90},
    # Points each risk input adds (negative: positive evidence, which lowers the
    # risk); the risk is their sum, between 0 and 100. network_<class>: the
    # client's network class, unless the network policy allows that class
    # explicitly. ip_denial / device_denial: per recent denial (DENIALS_WINDOW)
    # of the client IP (IPv6 by /64) / of its device (attested id, DPoP key or
    # claimed id), at most denials_counted of each. key_pressure: the key as a
    # whole is under attack (POW_DENIALS_PER_DOUBLING_KEY denials, or a
    # key-under-attack boost). velocity: one of the request's per-client limits
    # (ip, session, device, mailbox) is at 80 % of a rate or more.
    # attestation_missing: the key requires app attestation that did not pass
    # (only possible with its evidence in observe mode). attested: app
    # attestation verified; dpop_returning: a DPoP key that started a session
    # before (within CHALLENGE_DPOP_MEMORY) and has no recent denials; pat: a
    # valid Private Access Token. The defaults keep one signal alone below
    # "critical": denying takes a bad network and a bad history together.
    # The policy file's [challenge_risk_weights] table.
    "CHALLENGE_RISK_WEIGHTS": {
        "network_tor": 45,
        "network_proxy": 30,
        "network_hosting": 30,
        "network_vpn": 15,
        "ip_denial": 4,
        "device_denial": 5,
        "denials_counted": 15,
        "key_pressure": 10,
        "velocity": 15,
        "attestation_missing": 30,
        "attested": -30,
        "dpop_returning": -15,
        "pat": -50,
    },
    # How long (seconds) the sessions a DPoP key started are remembered, for
    # the dpop_returning weight: from its first session on.
    "CHALLENGE_DPOP_MEMORY": 30 * 24 * 3600,
    # purge_expired deletes security events older than this (seconds).
    "EVENTS_RETENTION": 90 * 24 * 3600,
    # --- Bounded audit writes under a flood (protection.core.events) --------------
    # Denials and alerts are written at once while a process has written
    # fewer than EVENTS_MAX_WRITES_PER_SECOND rows this second; past that they
    # are added up and written every EVENTS_FLUSH_INTERVAL seconds as rows
    # with a count (at most EVENTS_FLUSH_MAX_ROWS per flush and process;
    # beyond that, one row per kind and reason). So a process writes at most
    # EVENTS_MAX_WRITES_PER_SECOND + EVENTS_FLUSH_MAX_ROWS / EVENTS_FLUSH_INTERVAL
    # rows a second, however large the flood.
    "EVENTS_MAX_WRITES_PER_SECOND": 20,
    "EVENTS_FLUSH_INTERVAL": 1.0,
    "EVENTS_FLUSH_MAX_ROWS": 50,
    # --- Automatic blocking (protection.policy.autoblock) --------------------------
    # A rule with "dry_run": true only records what it would have blocked
    # (a client_blocked alert with details.dry_run).
    # Each rule: N deny events whose kind or reason is in "kinds", from one
    # "dimension" (ip, session, device or key) within "window" seconds ->
    # block for "duration" seconds, multiplied by "escalation" for each
    # earlier automatic block of the same client by the same rule within
    # BLOCKS_KEEP_ENDED_FOR, capped at "max_duration". Rules on "key" never
    # block: they record an alert and raise the key's challenge difficulty
    # by "difficulty_boost" for "duration" seconds (key_difficulty_boost).
    "AUTO_BLOCK_RULES": [
        {
            "name": "ip-rate-limited",
            "dimension": "ip",
            "kinds": ["rate_limited"],
            "threshold": 60,
            "window": 600,
            "duration": 900,
            "escalation": 2,
            "max_duration": 7 * 24 * 3600,
        },
        {
            "name": "ip-verification-failures",
            "dimension": "ip",
            "kinds": [
                "challenge_failed",
                "token_invalid",
                "api_key_invalid",
                "attestation_failed",
                "attestation_replayed",
                # Forged Private Access Tokens (a missing one is not recorded).
                "pat_failed",
                # Forged or replayed DPoP proofs and App Attest objects.
                "dpop_proof_invalid",
                "dpop_replayed",
                "dpop_binding_mismatch",
                "attestation_invalid",
                "attestation_replayed",
            ],
            "threshold": 30,
            "window": 600,
            "duration": 1800,
            "escalation": 2,
            "max_duration": 7 * 24 * 3600,
        },
        {
            "name": "ip-enumeration",
            "dimension": "ip",
            # The sweep seen from one IP, not the key-wide one: every user of
            # a busy key would otherwise be blocked for someone else's sweep.
            "kinds": ["lookup_distinct_per_ip"],
            "threshold": 1,
            "window": 3600,
            "duration": 3600,
            "escalation": 2,
            "max_duration": 7 * 24 * 3600,
        },
        {
            "name": "session-abuse",
            "dimension": "session",
            "kinds": ["rate_limited", "enumeration_suspected", "token_invalid"],
            "threshold": 20,
            "window": 600,
            "duration": 3600,
            "escalation": 2,
            "max_duration": 24 * 3600,
        },
        {
            "name": "device-abuse",
            "dimension": "device",
            "kinds": [
                "rate_limited",
                "challenge_failed",
                "enumeration_suspected",
                "attestation_failed",
                "attestation_invalid",
                "attestation_replayed",
            ],
            "threshold": 30,
            "window": 600,
            "duration": 3600,
            "escalation": 2,
            "max_duration": 7 * 24 * 3600,
        },
        {
            "name": "key-under-attack",
            "dimension": "key",
            "kinds": ["rate_limited", "challenge_failed", "enumeration_suspected"],
            "threshold": 500,
            "window": 600,
            "duration": 3600,
            "difficulty_boost": 1,
        },
    ],
    # Networks never blocked automatically (monitoring, office NAT), as CIDRs.
    "AUTO_BLOCK_EXEMPT_NETWORKS": [],
    # Networks whose own recent denials never raise their proof-of-work
    # difficulty (pow_difficulty); config/settings.py adds loopback under DEBUG
    # so a developer's mistakes don't make the local page slower and slower.
    "POW_ESCALATION_EXEMPT_NETWORKS": [],
    # Upper bound of key_difficulty_boost(), whatever the rules add up to.
    "KEY_DIFFICULTY_BOOST_MAX": 3,
    # --- Fraud labels (protection.policy.labels) ---------------------------------
    # What a fraud label on a created person blocks, and for how long (seconds):
    # "session" (the session that created it), "device" (its device id, only
    # when an attestation verified it; a claimed id is never blocked, as it
    # would apply under every key) and "ip" (the creating address, IPv6 by its
    # /64; never one of AUTO_BLOCK_EXEMPT_NETWORKS). A kind left out is not
    # blocked. Each block is a client_blocked event with reason fraud_label;
    # labelling the person legit lifts the blocks the fraud label made. The
    # policy file's label_fraud_blocks table replaces it.
    "LABEL_FRAUD_BLOCKS": {"session": 24 * 3600, "device": 24 * 3600, "ip": 24 * 3600},
    # --- App attestation (protection.attestation) ----------------------------
    # Evidence that the caller is a genuine build of a mobile or web app, asked
    # for by keys whose required verifications name approov / app_check (and
    # app_attest); on every lookup and create too with ApiKey.attest_every_request.
    # Approov: the account's HS256 secret, base64 or base64url (32 bytes at
    # least; protection.E006 refuses less at start-up). Empty = Approov off.
    "APPROOV_SECRET": "",
    # Further named secrets ({name: base64 secret}) a key may pick with
    # attestation_overrides["approov_secret"] (one Approov account per app).
    "APPROOV_SECRETS": {},
    # Header the Approov SDK sends the token in.
    "APPROOV_HEADER": "Approov-Token",
    # Optional second accepted algorithm (e.g. "ES256", "RS256") and its PEM
    # public key, for accounts that sign tokens asymmetrically.
    "APPROOV_PUBLIC_KEY": "",
    "APPROOV_PUBLIC_KEY_ALGORITHM": "",
    # Seconds of clock skew accepted on exp.
    "APPROOV_LEEWAY": 5,
    # A token whose exp is further ahead than this (seconds) is refused
    # (exp_too_far): Approov tokens live minutes, so one valid for years (or
    # with exp 1e30) was not issued by Approov's service as configured.
    "APPROOV_MAX_LIFETIME": 3600,
    # Header whose SHA-256 the token's "pay" claim binds on lookup and create
    # (on POST /api/v1/sessions it is always X-Api-Key: no Authorization yet).
    "APPROOV_BINDING_HEADER": "Authorization",
    # A token without "pay" (Approov's failover tokens) is refused unless True.
    "APPROOV_ALLOW_MISSING_PAY": False,
    # Firebase App Check: the Firebase project number and the app ids
    # (1:123:android:abc...) whose tokens are accepted; keys may add app ids.
    "APPCHECK_PROJECT_NUMBER": "",
    "APPCHECK_APP_IDS": [],
    "APPCHECK_HEADER": "X-Firebase-AppCheck",
    "APPCHECK_JWKS_URL": "https://firebaseappcheck.googleapis.com/v1/jwks",
    # Keys are kept as long as the JWKS response's max-age says, at most this
    # (seconds; never more than 6 hours whatever is set here).
    "APPCHECK_JWKS_MAX_AGE": 6 * 3600,
    # An unknown "kid" refetches the JWKS at most once per this many seconds
    # (per process and, through the shared cache, across processes), so a
    # flood of random kids is not a flood of fetches. Also the pause after a
    # failed fetch, during which the previously fetched keys stay in use.
    "APPCHECK_JWKS_REFETCH_COOLDOWN": 60,
    # Total deadline (seconds) of one JWKS fetch or token consumption call.
    "APPCHECK_HTTP_TIMEOUT": 3.0,
    "APPCHECK_LEEWAY": 5,
    # Limited-use tokens: POSTed as {"app_check_token": ...} to this URL
    # ("{project_number}" is replaced) with this bearer credential; a reply
    # {"alreadyConsumed": true} is attestation_replayed. Empty = not consumed.
    "APPCHECK_CONSUME_URL": "",
    "APPCHECK_CONSUME_BEARER": "",
    # --- Outbox: mail, SMS and webhooks (protection.core.outbox) ---------------
    # What gatehouse sends is written to one table in the transaction of the
    # change that causes it, and sent by ``manage.py outbox_send`` (cron, or
    # ``--loop`` under a process manager). A failed attempt is retried after
    # OUTBOX_RETRY_BASE seconds, doubling each time up to OUTBOX_RETRY_MAX_DELAY
    # (each delay drawn between half and all of that, so retries spread out;
    # a receiver's Retry-After is honoured within the cap).
    "OUTBOX_RETRY_BASE": 30,
    "OUTBOX_RETRY_MAX_DELAY": 3600,
    # Seconds after a message was written when its sender gives up on it
    # (it becomes "dead"), per channel; "default" for channels not named.
    # A caller may give an earlier end (a code that expires in 15 minutes).
    "OUTBOX_GIVE_UP_AFTER": {
        "default": 24 * 3600,
        "mail": 24 * 3600,
        "sms": 3600,
        "webhook": 24 * 3600,
    },
    # Sent and dead messages (their payload already replaced by a digest) are
    # kept this long (seconds) for the admin, then purge_expired deletes them.
    "OUTBOX_KEEP_FOR": 7 * 24 * 3600,
    # ``outbox_send --loop``: seconds to wait when nothing is due, and at most
    # how many messages one pass sends before it looks again.
    "OUTBOX_POLL_INTERVAL": 5.0,
    "OUTBOX_BATCH_SIZE": 100,
    # SMS (the outbox's "sms" channel): "console" (printed; the default under
    # DEBUG), "file" (one JSON line {"to", "body"} per message appended to
    # SMS_FILE_PATH), "twilio" (Twilio's Messages API, settings below), or the
    # dotted path of a class with ``send(to, body)``. Empty: SMS cannot be sent
    # (each attempt fails, retried until the channel gives up). Env
    # GATEHOUSE_SMS_BACKEND, GATEHOUSE_SMS_FILE_PATH.
    "SMS_BACKEND": "",
    "SMS_FILE_PATH": "",
    # Twilio: the account SID (AC...) and auth token, or an API key (SK...)
    # in TWILIO_API_KEY_SID with its secret as TWILIO_AUTH_TOKEN. TWILIO_FROM
    # is the sending number (E.164) or a Messaging Service SID (MG...).
    # TWILIO_BASE_URL only changes for tests or a regional edge. Env
    # GATEHOUSE_TWILIO_*.
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_API_KEY_SID": "",
    "TWILIO_FROM": "",
    "TWILIO_BASE_URL": "https://api.twilio.com",
    # Total deadline (seconds) of one provider call (connect and answer).
    "SMS_TIMEOUT": 10.0,
    # --- Outbound webhooks (protection.webhooks) -----------------------------------
    # A webhook URL whose host is or resolves to a private, loopback,
    # link-local or otherwise non-public address is refused, when the endpoint
    # is created and again on every delivery (SSRF), unless this is True (env
    # GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=1): receivers inside your own
    # network, and tests.
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": False,
    # person.created carries email, phone and full name only when True.
    "WEBHOOKS_INCLUDE_PII": False,
    # Total deadline (seconds) of one delivery: connecting, sending, and the
    # receiver's status line and headers. Redirects are never followed.
    "WEBHOOKS_TIMEOUT": 10.0,
    # An endpoint is disabled, with a webhook_endpoint_disabled alert, when a
    # delivery to it is given up (every retry failed, OUTBOX_GIVE_UP_AFTER
    # "webhook") or its deliveries have all failed for this long (seconds, no
    # success in between), whichever comes first. A 410 Gone disables it at once.
    "WEBHOOKS_DISABLE_AFTER": 24 * 3600,
}


# Settings an environment variable may set (config/settings.py reads them
# through these parsers; the docs' environment table is generated from here).
# Approov secrets and App Check's and Approov's keys come only from here.
ENVIRONMENT: dict[str, Env] = {
    "SIGNING_KEY": Env("GATEHOUSE_SIGNING_KEY"),
    "POLICY_FILE": Env("GATEHOUSE_POLICY_FILE"),
    "TRUSTED_PROXIES": Env("GATEHOUSE_TRUSTED_PROXIES", whole_number),
    "TRUSTED_PROXY_NETWORKS": Env("GATEHOUSE_TRUSTED_PROXY_NETWORKS", networks),
    "METRICS_NETWORKS": Env("GATEHOUSE_METRICS_NETWORKS", networks),
    "ADMIN_NETWORKS": Env("GATEHOUSE_ADMIN_NETWORKS", networks),
    "MAX_BODY_BYTES": Env("GATEHOUSE_MAX_BODY_BYTES", whole_number),
    "PUBLIC_BASE_URL": Env("GATEHOUSE_PUBLIC_BASE_URL"),
    "ALLOW_LOCAL_CACHE": Env("GATEHOUSE_ALLOW_LOCAL_CACHE", boolean),
    "APP_ATTEST_APP_IDS": Env("GATEHOUSE_APP_ATTEST_APP_IDS", comma_list),
    "APP_ATTEST_ENVIRONMENT": Env(
        "GATEHOUSE_APP_ATTEST_ENVIRONMENT", one_of("production", "development")
    ),
    "APPROOV_SECRET": Env("GATEHOUSE_APPROOV_SECRET"),
    # GATEHOUSE_APPROOV_SECRET_<NAME>=secret adds {"<name>": secret}.
    "APPROOV_SECRETS": Env("GATEHOUSE_APPROOV_SECRET_", prefix=True),
    "APPCHECK_PROJECT_NUMBER": Env("GATEHOUSE_APPCHECK_PROJECT_NUMBER"),
    "APPCHECK_APP_IDS": Env("GATEHOUSE_APPCHECK_APP_IDS", comma_list),
    "APPCHECK_JWKS_URL": Env("GATEHOUSE_APPCHECK_JWKS_URL"),
    "SMS_BACKEND": Env("GATEHOUSE_SMS_BACKEND"),
    "SMS_FILE_PATH": Env("GATEHOUSE_SMS_FILE_PATH"),
    "TWILIO_ACCOUNT_SID": Env("GATEHOUSE_TWILIO_ACCOUNT_SID"),
    "TWILIO_AUTH_TOKEN": Env("GATEHOUSE_TWILIO_AUTH_TOKEN"),
    "TWILIO_API_KEY_SID": Env("GATEHOUSE_TWILIO_API_KEY_SID"),
    "TWILIO_FROM": Env("GATEHOUSE_TWILIO_FROM"),
    "TWILIO_BASE_URL": Env("GATEHOUSE_TWILIO_BASE_URL"),
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": Env("GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", boolean),
    "WEBHOOKS_INCLUDE_PII": Env("GATEHOUSE_WEBHOOKS_INCLUDE_PII", boolean),
    "LOOKUP_READS": Env("GATEHOUSE_LOOKUP_READS", one_of("replica", "primary")),
    "TURNSTILE_SITE_KEY": Env("GATEHOUSE_TURNSTILE_SITE_KEY"),
    "TURNSTILE_SECRET": Env("GATEHOUSE_TURNSTILE_SECRET"),
    "TURNSTILE_VERIFY_URL": Env("GATEHOUSE_TURNSTILE_VERIFY_URL"),
    "HCAPTCHA_SITE_KEY": Env("GATEHOUSE_HCAPTCHA_SITE_KEY"),
    "HCAPTCHA_SECRET": Env("GATEHOUSE_HCAPTCHA_SECRET"),
    "HCAPTCHA_VERIFY_URL": Env("GATEHOUSE_HCAPTCHA_VERIFY_URL"),
    "PAT_ISSUERS": Env("GATEHOUSE_PAT_ISSUERS", comma_list),
    "DATABASE_REPLICA_MAX_LAG": Env("DATABASE_REPLICA_MAX_LAG", positive_number),
}

# Settings a policy file may set, how the file's value merges over the
# setting's (protection.policyfile) and the owner's validator of it.
POLICY: dict[str, Policy] = {
    "RATE_LIMITS": Policy(DEEP, "protection.core.ratelimit.rates.rate_limits_policy_problems"),
    "RATE_LIMITS_OBSERVE": Policy(
        REPLACE, "protection.core.ratelimit.rates.rate_limits_observe_policy_problems"
    ),
    "AUTO_BLOCK_RULES": Policy(BY_NAME, "protection.policy.rules.auto_block_rules_policy_problems"),
    "NETWORK_POLICY": Policy(DEEP, "protection.keys.network_policy.network_policy_problems"),
    "LABEL_FRAUD_BLOCKS": Policy(
        REPLACE, "protection.policy.labels.label_fraud_blocks_policy_problems"
    ),
    "CHALLENGE_LADDER": Policy(DEEP, "protection.keys.ladder.challenge_ladder_problems"),
    "CHALLENGE_RISK_THRESHOLDS": Policy(
        DEEP, "protection.policy.risk.risk_thresholds_policy_problems"
    ),
    "CHALLENGE_RISK_WEIGHTS": Policy(DEEP, "protection.policy.risk.risk_weights_policy_problems"),
}


# Protection's own catalogue is registered like any app's (signup's from its
# AppConfig.ready); the reader merges the policy file for all of them.
settings_register("protection", DEFAULTS, policy=POLICY)

gatehouse_settings = GatehouseSettings(DEFAULTS)
