#!/usr/bin/env python
"""Django's command-line utility for gatehouse.

A configuration the process cannot start with (a malformed environment
variable, a missing PROMETHEUS_MULTIPROC_DIR), an unreachable database or a
missing migration is one line saying what to do, not a traceback.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from environs import EnvError

    try:
        execute_from_command_line(sys.argv)
    except (ImproperlyConfigured, EnvError) as exc:
        sys.exit(f"gatehouse: {exc}")
    except Exception as exc:
        from protection.startup import database_error_explain

        explained = database_error_explain(exc)
        if explained is None:
            raise
        sys.exit(f"gatehouse: {explained}")


if __name__ == "__main__":
    main()
