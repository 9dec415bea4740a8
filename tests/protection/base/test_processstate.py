"""One registry resets every piece of per-process state (tests reset it
between tests; a fresh worker could at start): nothing is reset by hand."""

from protection.base.processstate import process_state_names, process_state_reset


def test_every_per_process_memo_is_registered():
    import protection.attestation.app_attest  # noqa: F401
    import protection.attestation.jwks  # noqa: F401
    import protection.middleware  # noqa: F401
    import protection.sessions.revocation  # noqa: F401

    assert {
        "App Attest stored keys",
        "JWKS documents",
        "block hits",
        "cache health",
        "compiled blocks",
        "local counters",
        "over-budget memo",
        "pending denials",
        "unpublished revocations",
        "verified keys",
    } <= set(process_state_names())


def test_a_reset_forgets_fetched_jwks_and_unpublished_revocations():
    from protection.attestation.jwks import _Keys, jwks_cache
    from protection.sessions import revocation

    jwks_cache._entries["https://jwks.example/keys"] = _Keys(keys={}, fetched_at=0, expires_at=1)
    revocation._unpublished.add(("session", 60))
    process_state_reset()
    assert jwks_cache._entries == {}
    assert revocation._unpublished == set()
