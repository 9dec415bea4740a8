"""Shared machinery every concern stands on: the audit log (``events``), the
limiter (``ratelimit``), recent-denial reputation, cache health, nonces and
housekeeping. Knows no concern and no HTTP."""
