"""The project settings with a malformed automatic-blocking rule and a mistyped key."""

from config.settings import *  # noqa: F403
from config.settings import GATEHOUSE

GATEHOUSE = {
    **GATEHOUSE,
    "AUTO_BLOCK_RULES": [
        {
            "name": "typo-rule",
            "dimension": "ipp",
            "kinds": ["rate_limited"],
            "threshold": "60",
            "window": 600,
            "duration": 900,
        }
    ],
    "RATE_LIMT": {},
}
