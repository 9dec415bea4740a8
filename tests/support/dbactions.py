"""Run as ``python -m tests.support.dbactions ACTION`` by tests whose server uses a
database of its own (a private primary): the same settings and environment as
the server, so what it writes is what the server reads.

- ``credentials``: create an API key and a session; print {"raw", "access"};
- ``person EMAIL``: create a person with that (normalised) email.
"""

import json
import sys

import django


def main() -> None:
    django.setup()
    from protection.keys import api_key_create
    from protection.sessions import session_issue
    from signup.persons import Person

    action = sys.argv[1]
    if action == "credentials":
        key, raw = api_key_create(name="topology test")
        issued = session_issue(api_key=key, client_ip="127.0.0.1")
        print(json.dumps({"raw": raw, "access": issued.access}))
    elif action == "person":
        Person.objects.create(email=sys.argv[2], full_name="Grace Hopper")
    else:
        raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main()
