"""Network origin, offline: which AS, country and network class an IP comes from.

``origin`` (``NetworkOrigin``, the address parsing), ``models`` (datasets and
their ranges in the database), ``sources`` (reading iptoasn TSV, class
lists and the cloud providers' range files), ``storage`` (COPY in and out),
``fetch`` (the only code that downloads), ``services`` (``netintel_update``),
``compiled`` (the per-process arrays), ``registry`` (the per-process copy,
version swaps and ``netintel_classify``), ``selectors`` and ``checks``.
"""

from protection.netintel.origin import NETWORK_CLASSES, UNKNOWN_ORIGIN, NetworkOrigin
from protection.netintel.registry import (
    NETINTEL_VERSION_CACHE_KEY,
    netintel_age,
    netintel_classify,
    registry,
)

__all__ = [
    "NETINTEL_VERSION_CACHE_KEY",
    "NETWORK_CLASSES",
    "UNKNOWN_ORIGIN",
    "NetworkOrigin",
    "netintel_age",
    "netintel_classify",
    "registry",
]
