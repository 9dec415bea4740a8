"""What is wrong with the DPoP settings, said by their owner.

``protection.checks`` turns these into system checks: protection.E013 for
``PUBLIC_BASE_URL`` (the htu base), protection.W013 for ``DPOP_ALGORITHMS``.
"""

from urllib.parse import urlsplit

from protection.conf import gatehouse_settings
from protection.dpop import ASYMMETRIC_ALGORITHMS


def public_base_url_problem() -> str:
    """Why ``PUBLIC_BASE_URL`` is not ``scheme://host[:port]`` ("" when it is, or empty)."""
    base = gatehouse_settings.PUBLIC_BASE_URL
    if not base:
        return ""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        return f"PUBLIC_BASE_URL {base!r} is not scheme://host[:port]."
    if parts.query or parts.fragment or "?" in base or "#" in base:
        # The htu a proof must name is this plus the path: with "?x" appended,
        # every proof's URL would end in the query and no longer name the path.
        return (
            f"PUBLIC_BASE_URL {base!r} (GATEHOUSE_PUBLIC_BASE_URL) has a query or fragment: "
            "it must be scheme://host[:port] only."
        )
    if parts.username is not None or parts.password is not None:
        return f"PUBLIC_BASE_URL {base!r} (GATEHOUSE_PUBLIC_BASE_URL) must not hold credentials."
    return ""


def dpop_algorithms_problem() -> str:
    """Which configured algorithms are never accepted, or that none is ("" when fine)."""
    algorithms = gatehouse_settings.DPOP_ALGORITHMS
    ignored = [alg for alg in algorithms if alg not in ASYMMETRIC_ALGORITHMS]
    if ignored or not algorithms:
        return f"DPOP_ALGORITHMS: {ignored or 'empty'} never accepted."
    return ""
