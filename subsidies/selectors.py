"""Reads of assistance identities for other apps (enrollment asks here; it never
reads ``subsidies_assistanceidentity`` itself).

An identity is certified by a region's department for a benefit year, and it
counts only under the policy of the region that certified it.  A county that
runs its city's policy (孝义 141181 → 吕梁 141100) shares the city's
identities both ways: the key of an identity is the *policy region* of the
certifying region, and a caller asks with the policy region of the place the
person enrolls in.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from core import prepared
from policy.rules.types import Identity

IdentityKey = tuple[str, int, str]  # (id_number, year, policy region code)

# The numbers go as one comma-joined value split by the server: a long IN list of
# literals costs more to build and send than the query costs (bench/RESULTS.md, imports).
# The join follows this table's own foreign key to its region for one column, the
# region's policy region, to keep the facts at one query per kind (the ORM's
# ``region__policy_region`` does the same); every other read of regions goes through
# policy.selectors.
_IDENTITIES = """
SELECT a.id_number, a.year, COALESCE(r.policy_region_id, a.region_id), a.identity, a.certified_on,
       a.assessed_on
FROM unnest(string_to_array(%(numbers)s, ',')) AS t(n)
JOIN subsidies_assistanceidentity a ON a.id_number = t.n
JOIN policy_region r ON r.code = a.region_id
WHERE a.year = ANY(%(years)s::int[]) AND a.removed_at IS NULL"""


def hold_identities(policy_regions: Iterable[str], year: int) -> None:
    """Inside a transaction that prices from identities: a shared lock per (policy region,
    year), held to its end.  A roster import takes the same lock exclusively
    (``lock_identities``) before it reads what to re-price, so a registration priced
    while a roster is being written waits for it (and sees the new identities), and a
    roster import waits for registrations in flight (and re-prices them) — never a
    registration priced on the old list that the roster import did not see."""
    if not connection.in_atomic_block:
        return  # a plain read: nothing to keep in step
    codes = sorted(set(policy_regions))
    if codes:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(hashtext('identities:' || p), %s) "
                        "FROM unnest(%s::text[]) AS t(p) ORDER BY p", [year, codes])


def lock_identities(policy_region: str, year: int) -> None:
    """The exclusive side of ``hold_identities``: one roster import of a policy region and
    year at a time, and no pricing of that region and year meanwhile."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('identities:' || %s), %s)", [policy_region, year])


def identities_for_many(id_numbers: Iterable[str], years: Iterable[int], *,
                        policy_regions: Iterable[str] | None = None
                        ) -> dict[IdentityKey, tuple[Identity, ...]]:
    """Identities of many people in one query, keyed by
    ``(id_number, year, policy region code)``.

    ``policy_regions`` (optional) keeps only identities counting under those
    policy regions.  Each tuple is ordered by identity code, then
    certification date, so every caller sees the same order.
    """
    numbers = sorted(set(id_numbers))
    years = sorted(set(years))
    if not numbers or not years:
        return {}
    sql = _IDENTITIES
    params = {"numbers": ",".join(numbers), "years": years}
    if policy_regions is not None:
        sql += " AND COALESCE(r.policy_region_id, a.region_id) = ANY(%(policies)s::text[])"
        params["policies"] = sorted(set(policy_regions))
    sql += " ORDER BY 1, 2, 3, 4, 5, 6"
    if len(numbers) == 1:
        # one person (the channel API's dues and payments): the same statement, prepared on
        # the connection (core.prepared), so that PostgreSQL stops planning it
        rows = prepared.rows(sql, params)
    else:
        with connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
    out: dict[IdentityKey, list[Identity]] = {}
    for number, year, policy, code, on, assessed in rows:
        out.setdefault((number, year, policy), []).append(Identity(code=code, certified_on=on, assessed_on=assessed))
    return {key: tuple(idents) for key, idents in out.items()}


def identities_for(id_number: str, year: int, policy_region: str) -> tuple[Identity, ...]:
    """The batch selector for one person."""
    return identities_for_many([id_number], [year], policy_regions=[policy_region]).get(
        (id_number, year, policy_region), ())
