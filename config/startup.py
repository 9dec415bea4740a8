"""Start-up guard for the WSGI/ASGI servers: this project's secrets, then gatehouse's guard."""

import sys

from django.conf import settings

from protection.startup import EXIT_STATUS, startup_problems


def development_secret_problems() -> list[str]:
    """A production (DEBUG off) server that still uses a development secret."""
    if settings.DEBUG:
        return []
    problems = []
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        problems.append(
            "DEBUG is off and DJANGO_SECRET_KEY is the development one: set DJANGO_SECRET_KEY "
            "(and GATEHOUSE_SIGNING_KEY) to long random values, or DJANGO_DEBUG=1 for local "
            "development."
        )
    if settings.GATEHOUSE["SIGNING_KEY"] == settings.DEVELOPMENT_SIGNING_KEY:
        problems.append(
            "DEBUG is off and GATEHOUSE_SIGNING_KEY is the development one: set it to a long "
            "random value distinct from DJANGO_SECRET_KEY."
        )
    return problems


def refuse_to_start_if_broken() -> None:
    """Stop the server (exit status 4) with one line per problem, before it serves anything."""
    problems = development_secret_problems() or startup_problems()
    if problems:
        for problem in problems:
            sys.stderr.write(f"gatehouse: refusing to start: {problem}\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_STATUS)
