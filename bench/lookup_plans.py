"""The lookup bench's rows, ready to run: trees prepared, servers started,
credentials made, and the preflight that proves each row measures what it says.

``plans_build`` prepares every tree (migrate, its own key, the blocked
address), starts its servers in ``stack`` (one with huge limits, and one
with a small per-IP lookup limit for the over-budget row) and returns the
rows in the order a round runs them: each row of this tree next to its
``@before`` twin, so the pairs the ratios compare run back to back.
"""

import shutil
import tempfile
from collections.abc import Collection
from contextlib import ExitStack
from pathlib import Path

from bench.lookup_rows import (
    BLOCKED_IP,
    BODY,
    DENIALS,
    PATH,
    PATHS,
    DpopProofs,
    Plan,
    denial_plans,
    from_address,
    session_headers,
)
from bench.lookup_trees import OVER_BUDGET_RATE, PUBLIC_BASE_URL, Tree, database_name
from tests.support.gunicorn import GunicornServer, request

ORDER = ("plain", "floor", "protected", "dpop", "stack", *DENIALS)


def _stack_headers(raw_key: str) -> dict[str, str]:
    """djangorestframework-api-key's key and a simplejwt access token for one
    subject, minted in this process (Django set up with the server's secrets)."""
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken()
    token[api_settings.USER_ID_CLAIM] = "bench-subject"
    return {"X-Api-Key": raw_key, "Authorization": f"Bearer {token}"}


def _stack_key() -> str:
    from rest_framework_api_key.models import APIKey

    return APIKey.objects.create_key(name="bench stack")[1]


def _dpop_plan(tree: Tree, server: GunicornServer, database: str, stack: ExitStack) -> Plan:
    from bench.bench_dpop_lookup import dpop_session  # it imports bench_lookup
    from tests.support.dpop import DpopClient

    raw_key = tree.key_create("bench dpop", require="dpop")
    client = DpopClient()
    workdir = Path(tempfile.mkdtemp(prefix="gh-bench-dpop-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    proofs = DpopProofs(client=client, file=workdir / "proofs.txt", url=PUBLIC_BASE_URL + PATH)

    def fresh() -> dict[str, str]:
        headers, proofs.access = dpop_session(server.port, raw_key, client)
        return from_address("dpop", headers)

    return Plan(name="dpop", server=server, database=database, fresh=fresh, dpop=proofs)


def _served_plans(
    tree: Tree,
    server: GunicornServer,
    *,
    database: str,
    raw_key: str,
    wanted: Collection[str],
    stack: ExitStack,
) -> list[Plan]:
    """The served rows of ``tree`` that are ``wanted``; only this worktree
    serves plain, floor, dpop and stack (the test views and the stack's
    package are this tree's)."""
    plans = []
    if "protected" in wanted:
        plans.append(
            Plan(
                name=tree.suffix("protected"),
                server=server,
                database=database,
                fresh=lambda: from_address("protected", session_headers(server.port, raw_key)),
                guarded=True,
            )
        )
    if tree.label:
        return plans
    for name in ("plain", "floor"):
        if name in wanted:
            plans.append(
                Plan(
                    name=name,
                    server=server,
                    database=database,
                    fresh=lambda name=name: from_address(name, {}),
                    path=PATHS[name],
                )
            )
    if "dpop" in wanted:
        plans.append(_dpop_plan(tree, server, database, stack))
    if "stack" in wanted:
        stack_key = _stack_key()
        plans.append(
            Plan(
                name="stack",
                server=server,
                database=database,
                fresh=lambda: from_address("stack", _stack_headers(stack_key)),
                path=PATHS["stack"],
                guarded=True,
            )
        )
    return plans


def plans_build(
    trees: list[Tree], *, stack: ExitStack, rows: Collection[str], workers: int
) -> list[Plan]:
    """Prepare ``trees``, start their servers in ``stack``, return the plans of ``rows``."""
    plans: dict[str, Plan] = {}
    for tree in trees:
        tree.prepare()
        raw_key = tree.key_create("bench")
        database = database_name(tree.database_url)
        if "blocked-ip" in rows:
            tree.ip_block(BLOCKED_IP)
            stack.callback(tree.ip_unblock, BLOCKED_IP)
        server = stack.enter_context(tree.serve(workers=workers))
        limited = (
            stack.enter_context(tree.serve(workers=workers, lookup_ip=[OVER_BUDGET_RATE]))
            if "over-budget" in rows
            else None
        )
        served = _served_plans(
            tree, server, database=database, raw_key=raw_key, wanted=rows, stack=stack
        )
        denials = denial_plans(
            suffix=tree.suffix,
            server=server,
            limited=limited,
            database=database,
            raw_key=raw_key,
            wanted=rows,
        )
        plans.update((plan.name, plan) for plan in [*served, *denials])
    labels = [tree.label for tree in trees]
    ordered = [f"{name}@{label}" if label else name for name in ORDER for label in labels]
    return [plans[name] for name in ordered if name in plans]


def preflight(plans: list[Plan]) -> list[str]:
    """One request per row, answered as it must be; the guarded rows refuse a
    request without their key and one without their token; the DPoP row
    refuses a proof sent twice and a request without one. Returns the problems."""
    problems = []
    for plan in plans:
        headers = plan.renew()
        if plan.prime is not None:
            problem = plan.prime(headers)
            if problem:
                problems.append(f"{plan.name}: never refused for its limit: {problem}")
                continue
        problem = plan.check()
        if problem:
            problems.append(f"{plan.name}: {problem}")
        refusals = {}
        if plan.guarded:
            for missing in ("X-Api-Key", "Authorization"):
                refusals[f"without {missing}"] = {k: v for k, v in headers.items() if k != missing}
        if plan.dpop:
            proof = plan.dpop.one()
            request(plan.server.port, "POST", plan.path, BODY, {**headers, "DPoP": proof})
            refusals["with the same proof again"] = {**headers, "DPoP": proof}
            refusals["without a proof"] = headers
        for what, partial in refusals.items():
            status = request(plan.server.port, "POST", plan.path, BODY, partial)[0]
            if status not in (401, 403):
                problems.append(f"{plan.name} {what}: {status}, not 401/403")
    return problems
