"""Anonymous sessions: who is calling (the *who*), once the *what* checks pass.

``models`` holds ``AnonymousSession``; ``services`` issues, refreshes and
revokes sessions and their tokens; ``verify`` reads tokens on the hot path;
``revocation`` keeps the revocation marks the hot path reads from the shared
cache; ``tokens`` are the JWT classes.
"""

from protection.sessions.models import AnonymousSession
from protection.sessions.revocation import (
    session_state_reads,
    sessions_marks_rebuild,
)
from protection.sessions.services import (
    DpopRequest,
    IssuedSession,
    session_issue,
    session_refresh,
    session_revoke,
    sessions_purge_expired,
)
from protection.sessions.verify import (
    SessionClaims,
    session_authenticate,
    session_state_check,
    session_token_verify,
)

__all__ = [
    "AnonymousSession",
    "DpopRequest",
    "IssuedSession",
    "SessionClaims",
    "session_authenticate",
    "session_issue",
    "session_refresh",
    "session_revoke",
    "session_state_check",
    "session_state_reads",
    "session_token_verify",
    "sessions_marks_rebuild",
    "sessions_purge_expired",
]
