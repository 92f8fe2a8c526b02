"""Attribute rules per project: when, from which kind of workstation, from where.

A project may require that audio and keys are released only

* within working hours in a time zone (``Mon-Fri 08:00-18:00`` in ``Europe/Berlin``),
* to a *managed* workstation (enrolled with IT's secret or claim: ``server.enrolment``),
* to clients whose address is in listed networks (``10.20.0.0/16,127.0.0.1/32``).

They are checked at every key grant and segment download (``segment_delivery``),
after the role and device checks. A refusal is 403 ``rule_refused`` whose message
names the rule in words, and an ``access_refused`` leaf whose reason names it
(``rule_hours``, ``rule_managed_device``, ``rule_network``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select

from server import db
from server.upsert import upsert

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HOURS = re.compile(r"^(\w{3})(?:-(\w{3}))? ([0-2]\d):([0-5]\d)-([0-2]\d):([0-5]\d)$")


class RuleError(ValueError):
    """A rule that cannot be set as written (for the administrator)."""


@dataclass(frozen=True)
class Rules:
    hours: str | None = None
    timezone: str = "UTC"
    managed_only: bool = False
    networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    reason: str
    words: str


def parse_hours(text: str) -> tuple[set[int], int, int]:
    """``Mon-Fri 08:00-18:00`` -> ({0..4}, 480, 1080): weekdays and minutes of the day."""
    match = _HOURS.match(text.strip())
    if match is None or match.group(1) not in DAYS or (match.group(2) or "Mon") not in DAYS:
        raise RuleError("hours are written like 'Mon-Fri 08:00-18:00'")
    first = DAYS.index(match.group(1))
    last = DAYS.index(match.group(2)) if match.group(2) else first
    days = {d % 7 for d in range(first, last + 1 if last >= first else last + 8)}
    start = int(match.group(3)) * 60 + int(match.group(4))
    end = int(match.group(5)) * 60 + int(match.group(6))
    if not 0 <= start < end <= 24 * 60:
        raise RuleError("the hours must start before they end, within one day")
    return days, start, end


def validate(rules: Rules) -> Rules:
    if rules.hours is not None:
        parse_hours(rules.hours)
    try:
        ZoneInfo(rules.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleError(f"unknown time zone {rules.timezone!r}") from exc
    for network in rules.networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise RuleError(f"{network!r} is not a network (e.g. 10.20.0.0/16)") from exc
    return rules


def load(conn: Connection, project_id: str) -> Rules:
    row = conn.execute(
        select(db.access_rules).where(db.access_rules.c.project_id == project_id)
    ).first()
    if row is None:
        return Rules()
    networks = tuple(n for n in (row.networks or "").split(",") if n)
    return Rules(row.hours, row.timezone or "UTC", bool(row.managed_only), networks)


def save(conn: Connection, project_id: str, rules: Rules) -> None:
    validate(rules)
    upsert(
        conn, db.access_rules, ["project_id"],
        {
            "project_id": project_id, "hours": rules.hours, "timezone": rules.timezone,
            "managed_only": rules.managed_only, "networks": ",".join(rules.networks),
        },
    )  # fmt: skip


def describe(rules: Rules) -> str:
    parts = []
    if rules.hours:
        parts.append(f"hours {rules.hours} ({rules.timezone})")
    if rules.managed_only:
        parts.append("managed workstations only")
    if rules.networks:
        parts.append("networks " + ", ".join(rules.networks))
    return "; ".join(parts) or "no attribute rules"


def check(
    rules: Rules, *, managed: bool, address: str | None, now: dt.datetime | None = None
) -> Refusal | None:
    """The first rule this access breaks, or ``None``."""
    if rules.hours:
        days, start, end = parse_hours(rules.hours)
        local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(rules.timezone))
        minute = local.hour * 60 + local.minute
        if local.weekday() not in days or not start <= minute < end:
            return Refusal(
                "rule_hours",
                f"this project's audio is available {rules.hours} ({rules.timezone}) only",
            )
    if rules.managed_only and not managed:
        return Refusal(
            "rule_managed_device",
            "this project's audio is available on workstations your organisation manages only",
        )
    if rules.networks:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            ip = None
        if ip is None or not any(
            ip in ipaddress.ip_network(n, strict=False) for n in rules.networks
        ):
            return Refusal(
                "rule_network", "this project's audio is available from the office network only"
            )
    return None
