"""Load the org chart YAML (config/seed/*.yaml, schema in docs/org-chart.md) into the database.

Two phases:

1. **Validate** the whole file: every entry is checked with pydantic models (unknown fields refused), then
   every cross-reference (units, people), every uniqueness rule and every rule that depends on what the
   database already holds (a unit liaison replaced without a reason). All problems are collected and
   raised together as one `SeedError`; nothing is written.
2. **Upsert** in place by natural keys (unit name, person userid, group code, chat code, dispatch row
   seq, project name, milestone (project, seq)) in the caller's transaction. Every created or updated
   row gets an audit row (actor "seed"); a second run of the same file changes nothing and audits
   nothing.

Rows the file no longer names (people, units, dispatch rows, projects) are left alone and reported:
ledger items point at them. Group memberships are the exception: a group's members are exactly the
file's list.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.channels import CHANNELS
from bot.infra import audit
from models import (
    ALL_ROLES,
    ROLE_ADMIN,
    ROLE_CONVENER,
    ROLE_COORDINATION,
    ROLE_LEADER,
    ROLE_LIAISON_GROUP,
    ROLE_OFFICE_LIAISON,
    ROLE_OFFICE_SUPERVISOR,
    ROLE_SUPERVISION,
    UNIT_KINDS,
    ChatGroup,
    DispatchRow,
    GroupMembership,
    KeyProject,
    Milestone,
    Person,
    PersonRole,
    Unit,
    WorkGroup,
)

SCHEMA_VERSION = 1
ACTOR = "seed"

# Roles a file may list explicitly; every other role is derived from the org chart.
EXPLICIT_ROLES = (ROLE_ADMIN,)
DERIVED_ROLES = tuple(r for r in ALL_ROLES if r not in EXPLICIT_ROLES)
# Derived roles kept in person_role (the unit-scoped ones live in unit.head_id / unit.liaison_id).
STORED_DERIVED_ROLES = (ROLE_LEADER, ROLE_OFFICE_SUPERVISOR, ROLE_OFFICE_LIAISON, ROLE_SUPERVISION,
                        ROLE_COORDINATION, ROLE_LIAISON_GROUP, ROLE_CONVENER)
MANAGED_ROLES = frozenset(STORED_DERIVED_ROLES + EXPLICIT_ROLES)

GROUP_CODES = ("taskforce", "coordination", "liaison", "supervision", "joint_leadership", "joint_office",
               # seed 001's recipients: 抄送区委区政府主要领导 (§三(三)); §三(四)'s 督查室 and 纪委监委 / 效能办
               "main_leaders", "party_supervision", "gov_supervision", "discipline", "efficiency_office")
GROUP_ROLE = {"supervision": ROLE_SUPERVISION, "coordination": ROLE_COORDINATION,
              "liaison": ROLE_LIAISON_GROUP}
CONVENER_POSITIONS = ("总召集人", "召集人")
POSITIONS = ("组长", "第一副组长", "副组长", "成员", "总召集人", "召集人", "主任", "副主任")
CYCLES = ("monthly", "semimonthly", "weekly", "quarterly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PLACEHOLDER_PREFIX = "placeholder_"

USERID_RE = r"^[a-z][a-z0-9_]*$"
MOBILE_RE = r"^1\d{10}$"
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
ENV_RE = r"^[A-Z][A-Z0-9_]*$"


# ---------------------------------------------------------------------------------------------------
# Errors and the report


class SeedError(Exception):
    """The file was refused; `errors` lists every problem as "path: message". Nothing was written."""

    def __init__(self, errors: Iterable[str]):
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} error(s) in the seed file:\n" + "\n".join(self.errors))


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


ENTITIES = ("unit", "person", "work_group", "chat_group", "dispatch_row", "key_project", "milestone")


@dataclass
class SeedReport:
    counts: dict[str, Counts] = field(default_factory=lambda: {e: Counts() for e in ENTITIES})
    audit_rows: int = 0
    liaison_changes: list[str] = field(default_factory=list)  # "区发改局: a → b"
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # one line per created entity or changed field

    @property
    def created(self) -> int:
        return sum(c.created for c in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.counts.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.counts.values())

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        lines = [f"{'entity':<14}{'created':>9}{'updated':>9}{'unchanged':>11}"]
        for name, c in self.counts.items():
            lines.append(f"{name:<14}{c.created:>9}{c.updated:>9}{c.unchanged:>11}")
        lines.append(f"audit rows written: {self.audit_rows}")
        for change in self.liaison_changes:
            lines.append(f"联络员变更 liaison change: {change}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if not self.changed:
            lines.append("无变化 nothing changed")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Schema (pydantic v2): one model per entry; unknown fields are refused.


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrganizationIn(_Entry):
    name: str = Field(min_length=1, max_length=200)
    short_name: Optional[str] = Field(default=None, max_length=50)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{v}"') from None
        return v


class UnitIn(_Entry):
    name: str = Field(min_length=1, max_length=100)
    aliases: list[str] = []
    kind: Literal[UNIT_KINDS] = "bureau"  # type: ignore[valid-type]
    liaison: Optional[str] = None
    head: Optional[str] = None

    @field_validator("liaison", mode="before")
    @classmethod
    def _one_liaison(cls, v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            raise ValueError("a unit has exactly one liaison (联络员): give one userid, not a list")
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        v = [a.strip() for a in v]
        if any(not a for a in v):
            raise ValueError("empty alias")
        dup = [a for a, n in Counter(v).items() if n > 1]
        if dup:
            raise ValueError(f'alias "{dup[0]}" listed twice')
        return v


class PersonIn(_Entry):
    """A person; `key` names them in the rest of the file and in the database (default: their WeCom id).
    The platform ids (`wecom_userid`, `dingtalk_userid`) are their identities; a person may have either."""

    name: str = Field(min_length=1, max_length=50)
    key: Optional[str] = Field(default=None, pattern=USERID_RE, max_length=64)
    wecom_userid: Optional[str] = Field(default=None, pattern=USERID_RE, max_length=64)
    dingtalk_userid: Optional[str] = Field(default=None, min_length=1, max_length=64)
    mobile: Optional[str] = Field(default=None, pattern=MOBILE_RE)
    title: Optional[str] = Field(default=None, max_length=200)
    short_title: Optional[str] = Field(default=None, max_length=50)  # 区长 in 杨凤翔区长 (default: from title)
    unit: Optional[str] = None
    placeholder: bool = False
    roles: list[str] = []
    _explicit_key: bool = PrivateAttr(default=False)

    @field_validator("mobile", "dingtalk_userid", mode="before")
    @classmethod
    def _digits_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _keyed(self) -> PersonIn:
        self._explicit_key = self.key is not None
        if self.key is None:
            if self.wecom_userid is None:
                raise ValueError("a person needs a key (or a wecom_userid, which then serves as the key)")
            self.key = self.wecom_userid
        return self

    @property
    def key_field(self) -> str:
        """The field the key was written in (for error messages)."""
        return "key" if self._explicit_key else "wecom_userid"

    def identities(self) -> dict[str, Optional[str]]:
        """channel -> platform id (None: none on that channel), from the `<channel>_userid` fields."""
        return {c: getattr(self, f"{c}_userid", None) for c in CHANNELS}


class MemberIn(_Entry):
    person: str
    position: Literal[POSITIONS]  # type: ignore[valid-type]
    title_in_group: Optional[str] = Field(default=None, max_length=200)


class GroupIn(_Entry):
    code: Literal[GROUP_CODES]  # type: ignore[valid-type]
    name: str = Field(min_length=1, max_length=200)
    source: Optional[str] = Field(default=None, max_length=100)
    mailbox: Optional[str] = Field(default=None, pattern=EMAIL_RE, max_length=100)
    duties: Optional[str] = None
    members: list[MemberIn] = []


class ChatIn(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)
    name: str = Field(min_length=1, max_length=100)
    channel: Literal["wecom", "dingtalk"] = "wecom"
    robot_key_env: Optional[str] = Field(default=None, pattern=ENV_RE, max_length=64)


class DispatchRowIn(_Entry):
    seq: int = Field(ge=1)
    leader: str
    content: str = Field(min_length=1)
    cycle: Literal[CYCLES] = "monthly"  # type: ignore[valid-type]
    lead_units: list[str] = []
    lead_units_note: Optional[str] = Field(default=None, max_length=200)
    office_supervisor: Optional[str] = None
    office_liaisons: list[str] = []


class MilestoneIn(_Entry):
    target: str = Field(min_length=1)
    deadline: date


class ProjectIn(_Entry):
    seq: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    lead_units: list[str] = Field(min_length=1)
    leader: Optional[str] = None
    milestones: list[MilestoneIn] = []


class ContactIn(_Entry):
    name: str = Field(min_length=1, max_length=100)
    mobile: Optional[str] = Field(default=None, pattern=MOBILE_RE)

    @field_validator("mobile", mode="before")
    @classmethod
    def _digits_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class KeyProjectsIn(_Entry):
    batch: Optional[str] = Field(default=None, max_length=100)
    source: Optional[str] = None
    report_mailbox: Optional[str] = Field(default=None, pattern=EMAIL_RE)
    report_contact: Optional[ContactIn] = None
    weekly_report_day: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    projects: list[Any] = []  # entries validated one by one (ProjectIn)


TOP_LEVEL = ("version", "organization", "units", "people", "groups", "chats", "dispatch_schedule",
             "key_projects")


@dataclass
class SeedData:
    """The validated file."""

    organization: OrganizationIn
    units: list[UnitIn]
    people: list[PersonIn]
    groups: list[GroupIn]
    chats: list[ChatIn]
    dispatch_schedule: list[DispatchRowIn]
    key_projects: Optional[KeyProjectsIn]
    projects: list[ProjectIn]
    unit_names: dict[str, str]  # name or alias -> canonical unit name
    warnings: list[str]


# ---------------------------------------------------------------------------------------------------
# Reading and validating


class _NoDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is a field error (not a YAML crash)."""


_NoDatesLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Union[str, Path]) -> Any:
    """Parse a seed file; YAML syntax errors become a SeedError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SeedError([f"{path}: cannot read file ({e.strerror or e})"]) from None
    try:
        return yaml.load(text, Loader=_NoDatesLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" line {where.line + 1}, column {where.column + 1}" if where else ""
        raise SeedError([f"{path}:{at} not valid YAML: {getattr(e, 'problem', None) or e}"]) from None


def _path(prefix: str, loc: Iterable[Any]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(err: Mapping[str, Any]) -> str:
    kind, inp, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        return "unknown field (not in the schema)"
    if kind == "literal_error":
        return f"{inp!r} is not one of {ctx.get('expected', '')}"
    if kind.startswith("date_"):
        return f'invalid date "{inp}" (expected YYYY-MM-DD, e.g. 2021-03-25)'
    if kind == "string_pattern_mismatch":
        return f'"{inp}" has the wrong form (pattern {ctx.get("pattern")})'
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']} (got {inp!r})" if inp is not None and not isinstance(inp, (dict, list)) else err["msg"]


def _parse(model: type[BaseModel], raw: Any, where: str, errors: list[str]) -> Optional[BaseModel]:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            errors.append(f"{_path(where, err['loc'])}: {_message(err)}")
        return None


def _parse_list(model: type[BaseModel], raw: Any, where: str, errors: list[str]) -> list[tuple[int, Any]]:
    """Validate each entry on its own so one bad entry does not hide the others' errors."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list")
        return []
    out = []
    for i, item in enumerate(raw):
        parsed = _parse(model, item, f"{where}[{i}]", errors)
        if parsed is not None:
            out.append((i, parsed))
    return out


def validate_seed(data: Any, session: Optional[Session] = None, *,
                  liaison_change_reason: Optional[str] = None) -> SeedData:
    """Check the whole file (and, given a session, its effect on the database); raise SeedError with
    every problem found."""
    errors: list[str] = []
    warnings: list[str] = []
    if not isinstance(data, dict):
        raise SeedError(["(file): the top level must be a mapping (version, organization, units, …)"])
    for key in data:
        if key not in TOP_LEVEL:
            errors.append(f"{key}: unknown top-level section (expected one of {', '.join(TOP_LEVEL)})")
    if data.get("version") != SCHEMA_VERSION:
        errors.append(f"version: must be {SCHEMA_VERSION} (got {data.get('version')!r})")
    org = None
    if data.get("organization") is None:
        errors.append("organization: missing required section")
    else:
        org = _parse(OrganizationIn, data["organization"], "organization", errors)

    units = _parse_list(UnitIn, data.get("units"), "units", errors)
    people = _parse_list(PersonIn, data.get("people"), "people", errors)
    groups = _parse_list(GroupIn, data.get("groups"), "groups", errors)
    chats = _parse_list(ChatIn, data.get("chats"), "chats", errors)
    rows = _parse_list(DispatchRowIn, data.get("dispatch_schedule"), "dispatch_schedule", errors)
    kp = None
    projects: list[tuple[int, ProjectIn]] = []
    if data.get("key_projects") is not None:
        kp = _parse(KeyProjectsIn, data["key_projects"], "key_projects", errors)
        raw_projects = data["key_projects"].get("projects") if isinstance(data["key_projects"], dict) else None
        projects = _parse_list(ProjectIn, raw_projects, "key_projects.projects", errors)

    # -- units: names and aliases are one namespace
    unit_names: dict[str, str] = {}
    owner: dict[str, str] = {}  # name/alias -> "units[i]"
    for i, u in units:
        for j, label in [(None, u.name)] + list(enumerate(u.aliases)):
            where = f"units[{i}].name" if j is None else f"units[{i}].aliases[{j}]"
            if label == u.name and j is not None:
                continue  # an alias equal to the unit's own name is harmless
            if label in owner:
                what = "unit name" if j is None else "alias"
                errors.append(f'{where}: {what} "{label}" already used by {owner[label]}')
                continue
            owner[label] = f"units[{i}] ({u.name})"
            unit_names[label] = u.name

    def unit_ref(ref: Optional[str], where: str) -> Optional[str]:
        if ref is None:
            return None
        if ref not in unit_names:
            errors.append(f'{where}: unknown unit "{ref}"')
            return None
        return unit_names[ref]

    # -- people
    by_key: dict[str, int] = {}
    wecom: dict[str, int] = {}
    entries = dict(people)
    dingtalk: dict[str, int] = {}
    for i, p in people:
        if p.key in by_key:
            what = "key" if p.key_field == "key" else "userid"
            errors.append(f'people[{i}].{p.key_field}: duplicate {what} "{p.key}" '
                          f"(also people[{by_key[p.key]}]); append a digit for a different person")
        else:
            by_key[p.key] = i
        if p.wecom_userid:
            first = wecom.get(p.wecom_userid)
            # Between two people keyed by their WeCom id, the key check above has said it already.
            if first is not None and "key" in (p.key_field, entries[first].key_field):
                errors.append(f'people[{i}].wecom_userid: duplicate userid "{p.wecom_userid}" '
                              f"(also people[{wecom[p.wecom_userid]}])")
            wecom.setdefault(p.wecom_userid, i)
        if p.dingtalk_userid:
            if p.dingtalk_userid in dingtalk:
                errors.append(f'people[{i}].dingtalk_userid: duplicate userid "{p.dingtalk_userid}" '
                              f"(also people[{dingtalk[p.dingtalk_userid]}])")
            dingtalk.setdefault(p.dingtalk_userid, i)
        if p.placeholder != p.key.startswith(PLACEHOLDER_PREFIX):
            errors.append(f"people[{i}].{p.key_field}: placeholder people (and only they) have a "
                          f"{p.key_field.split('_')[-1]} "
                          f'starting with "{PLACEHOLDER_PREFIX}" (placeholder: {str(p.placeholder).lower()})')
        unit_ref(p.unit, f"people[{i}].unit")
        for j, role in enumerate(p.roles):
            if role in EXPLICIT_ROLES:
                continue
            if role in DERIVED_ROLES:
                errors.append(f'people[{i}].roles[{j}]: role "{role}" is derived from the org chart; '
                              f"do not list it (explicit roles: {', '.join(EXPLICIT_ROLES)})")
            else:
                errors.append(f'people[{i}].roles[{j}]: unknown role "{role}" '
                              f"(explicit roles: {', '.join(EXPLICIT_ROLES)})")
        if p.roles and len(set(p.roles)) != len(p.roles):
            errors.append(f"people[{i}].roles: a role is listed twice")
    names = Counter(p.name for _, p in people)
    for name, n in names.items():
        if n > 1:
            warnings.append(f'{n} people are named "{name}": the same name is normally the same person')

    def person_ref(ref: Optional[str], where: str) -> None:
        if ref is not None and ref not in by_key:
            errors.append(f'{where}: unknown person "{ref}"')

    for i, u in units:
        person_ref(u.liaison, f"units[{i}].liaison")
        person_ref(u.head, f"units[{i}].head")

    # -- groups
    seen_codes: dict[str, int] = {}
    for i, g in groups:
        if g.code in seen_codes:
            errors.append(f'groups[{i}].code: duplicate group code "{g.code}" (also groups[{seen_codes[g.code]}])')
        seen_codes.setdefault(g.code, i)
        members_seen: set[str] = set()
        for j, m in enumerate(g.members):
            person_ref(m.person, f"groups[{i}].members[{j}].person")
            if m.person in members_seen:
                errors.append(f'groups[{i}].members[{j}].person: "{m.person}" is listed twice in {g.code}')
            members_seen.add(m.person)

    # -- chats
    seen_chats: dict[str, int] = {}
    for i, c in chats:
        if c.code in seen_chats:
            errors.append(f'chats[{i}].code: duplicate chat code "{c.code}" (also chats[{seen_chats[c.code]}])')
        seen_chats.setdefault(c.code, i)

    # -- dispatch schedule
    seen_seq: dict[int, int] = {}
    for i, r in rows:
        where = f"dispatch_schedule[{i}]"
        if r.seq in seen_seq:
            errors.append(f"{where}.seq: duplicate seq {r.seq} (also dispatch_schedule[{seen_seq[r.seq]}])")
        seen_seq.setdefault(r.seq, i)
        person_ref(r.leader, f"{where}.leader")
        person_ref(r.office_supervisor, f"{where}.office_supervisor")
        canon = [unit_ref(u, f"{where}.lead_units[{j}]") for j, u in enumerate(r.lead_units)]
        dup = [u for u, n in Counter(c for c in canon if c).items() if n > 1]
        if dup:
            errors.append(f'{where}.lead_units: unit "{dup[0]}" listed twice')
        if not r.lead_units and not r.lead_units_note:
            errors.append(f"{where}.lead_units: give the lead units, or lead_units_note when the seed names none")
        for j, who in enumerate(r.office_liaisons):
            person_ref(who, f"{where}.office_liaisons[{j}]")
        if len(set(r.office_liaisons)) != len(r.office_liaisons):
            errors.append(f"{where}.office_liaisons: a person is listed twice")

    # -- key projects
    seen_pname: dict[str, int] = {}
    for i, pr in projects:
        where = f"key_projects.projects[{i}]"
        if pr.name in seen_pname:
            errors.append(f'{where}.name: duplicate project "{pr.name}" '
                          f'(also key_projects.projects[{seen_pname[pr.name]}])')
        seen_pname.setdefault(pr.name, i)
        canon = [unit_ref(u, f"{where}.lead_units[{j}]") for j, u in enumerate(pr.lead_units)]
        dup = [u for u, n in Counter(c for c in canon if c).items() if n > 1]
        if dup:
            errors.append(f'{where}.lead_units: unit "{dup[0]}" listed twice')
        person_ref(pr.leader, f"{where}.leader")

    if session is not None and not errors:
        errors.extend(_check_against_db(session, [u for _, u in units], [p for _, p in people],
                                        liaison_change_reason))
    if errors:
        raise SeedError(errors)
    return SeedData(
        organization=org, units=[u for _, u in units], people=[p for _, p in people],
        groups=[g for _, g in groups], chats=[c for _, c in chats], dispatch_schedule=[r for _, r in rows],
        key_projects=kp, projects=[p for _, p in projects], unit_names=unit_names, warnings=warnings,
    )


def _find_unit(session: Session, u: UnitIn) -> Optional[Unit]:
    """The stored unit for an entry: by name, else (a renamed unit) by one of the entry's aliases."""
    unit = session.scalar(select(Unit).where(Unit.name == u.name))
    if unit is None and u.aliases:
        unit = session.scalars(select(Unit).where(Unit.name.in_(u.aliases)).order_by(Unit.id)).first()
    return unit


def _check_against_db(session: Session, units: list[UnitIn], people: list[PersonIn],
                      reason: Optional[str]) -> list[str]:
    errors: list[str] = []
    by_id = {p.id: p for p in session.scalars(select(Person).options(selectinload(Person.identities)))}
    by_key = {p.key: p for p in by_id.values() if p.key}
    owner = {(c, ident.external_id): p for p in by_id.values() for c, ident in p.identities.items()}
    for i, p in enumerate(people):
        for channel, external_id in p.identities().items():
            other = owner.get((channel, external_id)) if external_id else None
            if other is not None and other.key != p.key:
                errors.append(f'people[{i}].{channel}_userid: "{external_id}" already belongs to '
                              f"{other.name} ({other.key}) in the database")
    placeholders = {p.key for p in people if p.placeholder}
    for i, u in enumerate(units):
        unit = _find_unit(session, u)
        if unit is None or unit.liaison_id is None:
            continue
        old = by_id.get(unit.liaison_id)
        if old is None or old.key == u.liaison:
            continue
        # Replacing a placeholder is the first real choice, not a change of liaison.
        if old.placeholder or old.key in placeholders:
            continue
        if not (reason and reason.strip()):
            new = by_key.get(u.liaison) if u.liaison else None
            new_label = "none" if u.liaison is None else f"{new.name if new else u.liaison} ({u.liaison})"
            errors.append(f'units[{i}].liaison: unit "{u.name}" changes its liaison from {old.name} '
                          f"({old.key}) to {new_label}; 联络员一旦选定，无特殊情况不得更换 — "
                          "give the reason (--reason)")
    return errors


# ---------------------------------------------------------------------------------------------------
# Writing


class _Writer:
    """Applies a validated file. Each entry is compared as a plain dict of its natural-key values
    (before/after); only a difference writes, counts as updated and is audited."""

    def __init__(self, session: Session, seed: SeedData, actor: str, reason: Optional[str]):
        self.s = session
        self.seed = seed
        self.actor = actor
        self.reason = reason.strip() if reason and reason.strip() else None
        self.report = SeedReport(warnings=list(seed.warnings))
        self.units: dict[str, Unit] = {}
        self.people: dict[str, Person] = {}
        self._pending: list[tuple] = []  # audit rows waiting for their entity's id (after a flush)
        self.changes: list[str] = []  # "entity label: field: before → after", for the command's output

    # -- helpers

    def _audit_later(self, action: str, entity: str, obj: Any, before: Optional[dict], after: Optional[dict],
                     reason: Optional[str] = None) -> None:
        self._pending.append((action, entity, obj, before, after, reason))
        label = getattr(obj, "name", None) or getattr(obj, "key", None) or getattr(obj, "seq", None) \
            or getattr(obj, "code", None) or ""
        if before is None:
            self.changes.append(f"{entity} {label}: new")
        else:
            self.changes.extend(f"{entity} {label}: {k}: {before.get(k)!r} → {(after or {}).get(k)!r}"
                                for k in (after or {}))

    def _flush(self) -> None:
        self.s.flush()
        for action, entity, obj, before, after, reason in self._pending:
            audit.record(self.s, actor=self.actor, action=action, entity=entity, entity_id=obj.id,
                         before=before, after=after, reason=reason)
            self.report.audit_rows += 1
        self._pending.clear()

    def _track(self, entity: str, obj: Any, created: bool, before: dict, after: dict,
               apply: Callable[[], None]) -> None:
        """Apply `after` when the entry is new or differs from `before`; count and audit it."""
        counts = self.report.counts[entity]
        if created:
            apply()
            counts.created += 1
            self._audit_later("seed.create", entity, obj, None, after)
        elif before != after:
            apply()
            counts.updated += 1
            self._audit_later("seed.update", entity, obj, *audit.diff(before, after))
        else:
            counts.unchanged += 1

    @staticmethod
    def _set(obj: Any, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            setattr(obj, k, v)

    @staticmethod
    def _uid(person: Optional[Person]) -> Optional[str]:
        return person.key if person is not None else None

    def _unit(self, ref: Optional[str]) -> Optional[Unit]:
        return None if ref is None else self.units[self.seed.unit_names[ref]]

    # -- phases

    def run(self) -> SeedReport:
        staged = self.stage_units()
        self._flush()
        self.write_people()
        self._flush()
        self.write_units(staged)
        self.write_groups()
        self.write_chats()
        self.write_dispatch()
        self.write_projects()
        self._flush()
        self.note_leftovers()
        self.report.changes = self.changes
        return self.report

    def stage_units(self) -> list[tuple[UnitIn, Unit, bool, dict]]:
        """Create the units people point at; their fields are written (and audited) in write_units."""
        staged = []
        for u in self.seed.units:
            unit = _find_unit(self.s, u)
            created = unit is None
            before = {} if created else {
                "name": unit.name, "aliases": list(unit.aliases or []), "kind": unit.kind,
                "head": self._uid(unit.head), "liaison": self._uid(unit.liaison)}
            if created:
                unit = Unit(name=u.name, aliases=list(u.aliases), kind=u.kind)
                self.s.add(unit)
            self.units[u.name] = unit
            staged.append((u, unit, created, before))
        return staged

    def write_people(self) -> None:
        roles = self.wanted_roles()
        for p in self.seed.people:
            person = self.s.scalar(select(Person).where(Person.key == p.key))
            created = person is None
            if created:
                person = Person(key=p.key, name=p.name)
                self.s.add(person)
            unit = self._unit(p.unit)
            wanted = sorted(roles[p.key])
            after = {"name": p.name, "wecom_userid": p.wecom_userid, "dingtalk_userid": p.dingtalk_userid,
                     "mobile": p.mobile, "title": p.title, "short_title": p.short_title,
                     "unit": unit.name if unit else None, "placeholder": p.placeholder, "roles": wanted}
            before = {} if created else {
                "name": person.name, "wecom_userid": person.wecom_userid,
                "dingtalk_userid": person.dingtalk_userid, "mobile": person.mobile, "title": person.title,
                "short_title": person.short_title, "unit": person.unit.name if person.unit else None,
                "placeholder": person.placeholder,
                "roles": sorted(r.role for r in person.roles if r.role in MANAGED_ROLES)}

            def apply(person=person, p=p, unit=unit, wanted=wanted):
                self._set(person, {"name": p.name, "mobile": p.mobile, "title": p.title,
                                   "short_title": p.short_title, "placeholder": p.placeholder})
                for channel, external_id in p.identities().items():
                    person.set_identity(channel, external_id)
                person.unit = unit
                # Roles outside MANAGED_ROLES (none today) would be left alone.
                have = {r.role for r in person.roles}
                person.roles = [r for r in person.roles if r.role not in MANAGED_ROLES or r.role in wanted]
                person.roles.extend(PersonRole(role=r) for r in wanted if r not in have)

            self._track("person", person, created, before, after, apply)
            self.people[p.key] = person

    def wanted_roles(self) -> dict[str, set[str]]:
        """Explicit roles plus those derived from the dispatch schedule and the groups (the person_role
        rows); unit_head / unit_liaison are the unit's own columns and are not stored here."""
        roles: dict[str, set[str]] = {p.key: set(p.roles) for p in self.seed.people}
        for r in self.seed.dispatch_schedule:
            roles[r.leader].add(ROLE_LEADER)
            if r.office_supervisor:
                roles[r.office_supervisor].add(ROLE_OFFICE_SUPERVISOR)
            for x in r.office_liaisons:
                roles[x].add(ROLE_OFFICE_LIAISON)
        for g in self.seed.groups:
            for m in g.members:
                if g.code in GROUP_ROLE:
                    roles[m.person].add(GROUP_ROLE[g.code])
                if g.code == "joint_leadership" and m.position in CONVENER_POSITIONS:
                    roles[m.person].add(ROLE_CONVENER)
        return roles

    def write_units(self, staged: list[tuple[UnitIn, Unit, bool, dict]]) -> None:
        for u, unit, created, before in staged:
            head = self.people[u.head] if u.head else None
            liaison = self.people[u.liaison] if u.liaison else None
            after = {"name": u.name, "aliases": list(u.aliases), "kind": u.kind,
                     "head": u.head, "liaison": u.liaison}

            def apply(unit=unit, u=u, head=head, liaison=liaison):
                self._set(unit, {"name": u.name, "aliases": list(u.aliases), "kind": u.kind})
                unit.head = head
                unit.liaison = liaison

            old_liaison = before.get("liaison")
            if created or old_liaison is None or old_liaison == u.liaison:
                self._track("unit", unit, created, before, after, apply)
                continue
            # 联络员一旦选定，无特殊情况不得更换: the change has its own audit row, with the reason
            # (validation refused it without one, unless the old liaison was a placeholder).
            apply()
            self.report.counts["unit"].updated += 1
            rest_before = {k: v for k, v in before.items() if k != "liaison"}
            rest_after = {k: v for k, v in after.items() if k != "liaison"}
            if rest_before != rest_after:
                self._audit_later("seed.update", "unit", unit, *audit.diff(rest_before, rest_after))
            old = self.s.scalar(select(Person).where(Person.key == old_liaison))
            self._audit_later("unit.liaison_change", "unit", unit, {"liaison": old_liaison},
                              {"liaison": u.liaison}, reason=self.reason)
            new_label = f"{liaison.name} ({liaison.key})" if liaison else "—"
            old_label = f"{old.name} ({old_liaison})" if old is not None else old_liaison
            self.report.liaison_changes.append(f"{unit.name}: {old_label} → {new_label}")

    def write_groups(self) -> None:
        for g in self.seed.groups:
            group = self.s.scalar(select(WorkGroup).where(WorkGroup.code == g.code))
            created = group is None
            if created:
                group = WorkGroup(code=g.code, name=g.name)
                self.s.add(group)
            after = {"name": g.name, "source": g.source, "mailbox": g.mailbox, "duties": g.duties,
                     "members": [[m.person, m.position, m.title_in_group] for m in g.members]}
            before = {} if created else {
                "name": group.name, "source": group.source, "mailbox": group.mailbox, "duties": group.duties,
                "members": [[m.person.key, m.position, m.title_in_group] for m in group.members]}

            def apply(group=group, g=g):
                self._set(group, {"name": g.name, "source": g.source, "mailbox": g.mailbox, "duties": g.duties})
                existing = {m.person.key: m for m in group.members}
                keep = []
                for seq, m in enumerate(g.members, start=1):
                    ms = existing.get(m.person) or GroupMembership(person=self.people[m.person])
                    ms.position, ms.title_in_group, ms.seq = m.position, m.title_in_group, seq
                    keep.append(ms)
                group.members = keep  # delete-orphan removes the members no longer listed

            self._track("work_group", group, created, before, after, apply)

    def write_chats(self) -> None:
        """Chat groups: name, channel and the *name* of the environment variable holding the robot key.
        robot_key / robot_secret are runtime credentials and are never touched here."""
        for c in self.seed.chats:
            chat = self.s.scalar(select(ChatGroup).where(ChatGroup.code == c.code))
            created = chat is None
            if created:
                chat = ChatGroup(code=c.code, name=c.name)
                self.s.add(chat)
            after = {"code": c.code, "name": c.name, "channel": c.channel, "robot_key_env": c.robot_key_env}
            before = {} if created else {"code": chat.code, "name": chat.name, "channel": chat.channel,
                                         "robot_key_env": chat.robot_key_env}
            self._track("chat_group", chat, created, before, after,
                        lambda chat=chat, after=after: self._set(chat, after))

    def write_dispatch(self) -> None:
        for r in self.seed.dispatch_schedule:
            row = self.s.scalar(select(DispatchRow).where(DispatchRow.seq == r.seq))
            created = row is None
            if created:
                row = DispatchRow(seq=r.seq)
                self.s.add(row)
            units = [self._unit(u) for u in r.lead_units]
            after = {"seq": r.seq, "leader": r.leader, "content": r.content, "cycle": r.cycle,
                     "lead_units": sorted(u.name for u in units), "lead_units_note": r.lead_units_note,
                     "office_supervisor": r.office_supervisor, "office_liaisons": sorted(r.office_liaisons)}
            before = {} if created else {
                "seq": row.seq, "leader": self._uid(row.leader), "content": row.content, "cycle": row.cycle,
                "lead_units": sorted(u.name for u in row.lead_units), "lead_units_note": row.lead_units_note,
                "office_supervisor": self._uid(row.office_supervisor),
                "office_liaisons": sorted(p.key for p in row.office_liaisons)}

            def apply(row=row, r=r, units=units):
                self._set(row, {"content": r.content, "cycle": r.cycle, "lead_units_note": r.lead_units_note})
                row.leader = self.people[r.leader]
                row.office_supervisor = self.people[r.office_supervisor] if r.office_supervisor else None
                row.lead_units = units
                row.office_liaisons = [self.people[x] for x in r.office_liaisons]

            self._track("dispatch_row", row, created, before, after, apply)

    def write_projects(self) -> None:
        kp = self.seed.key_projects
        batch = kp.batch if kp else None
        # The form's mailbox and contact (填表说明) are kept per project: reminders show the contact.
        contact = {"report_mailbox": kp.report_mailbox if kp else None,
                   "contact_name": kp.report_contact.name if kp and kp.report_contact else None,
                   "contact_mobile": kp.report_contact.mobile if kp and kp.report_contact else None}
        for pr in self.seed.projects:
            project = self.s.scalar(select(KeyProject).where(KeyProject.name == pr.name))
            created = project is None
            if created:
                project = KeyProject(name=pr.name, seq=pr.seq)
                self.s.add(project)
            units = [self._unit(u) for u in pr.lead_units]
            after = {"seq": pr.seq, "name": pr.name, "batch": batch, "leader": pr.leader,
                     "lead_units": sorted(u.name for u in units), **contact}
            before = {} if created else {
                "seq": project.seq, "name": project.name, "batch": project.batch,
                "leader": self._uid(project.leader), "lead_units": sorted(u.name for u in project.lead_units),
                **{k: getattr(project, k) for k in contact}}

            def apply(project=project, pr=pr, units=units):
                self._set(project, {"seq": pr.seq, "batch": batch, **contact})
                project.leader = self.people[pr.leader] if pr.leader else None
                project.lead_units = units

            self._track("key_project", project, created, before, after, apply)
            self.write_milestones(project, pr)

    def write_milestones(self, project: KeyProject, pr: ProjectIn) -> None:
        """Milestone seq = its position in the file's list (1-based). done_on is runtime data: untouched."""
        existing = {m.seq: m for m in project.milestones}
        for seq, m in enumerate(pr.milestones, start=1):
            ms = existing.get(seq)
            created = ms is None
            if created:
                ms = Milestone(seq=seq, target=m.target, deadline=m.deadline)
            after = {"project": pr.name, "seq": seq, "target": m.target, "deadline": m.deadline.isoformat()}
            before = {} if created else {"project": project.name, "seq": ms.seq, "target": ms.target,
                                         "deadline": ms.deadline.isoformat()}

            def apply(ms=ms, m=m, created=created):
                self._set(ms, {"target": m.target, "deadline": m.deadline})
                if created:
                    project.milestones.append(ms)

            self._track("milestone", ms, created, before, after, apply)
        extra = sorted(set(existing) - set(range(1, len(pr.milestones) + 1)))
        if extra:
            self.report.warnings.append(f'project "{pr.name}": stored milestones {extra} are no longer in '
                                        "the file (left unchanged)")

    def note_leftovers(self) -> None:
        listed = {p.key for p in self.seed.people}
        others = sorted(str(p.key or p.wecom_userid or p.dingtalk_userid)
                        for p in self.s.scalars(select(Person).where(Person.active.is_(True)))
                        if p.key not in listed)
        if others:
            self.report.warnings.append(f"{len(others)} active people in the database are not in the file "
                                        f"(left unchanged): {', '.join(others[:10])}"
                                        + (" …" if len(others) > 10 else ""))
        seqs = {r.seq for r in self.seed.dispatch_schedule}
        gone = sorted(s for s in self.s.scalars(select(DispatchRow.seq)) if s not in seqs)
        if gone:
            self.report.warnings.append(f"dispatch rows {gone} are not in the file (left unchanged)")
        names = {p.name for p in self.seed.projects}
        gone_p = sorted(n for n in self.s.scalars(select(KeyProject.name)) if n not in names)
        if gone_p:
            self.report.warnings.append(f"key projects {gone_p} are not in the file (left unchanged)")


# ---------------------------------------------------------------------------------------------------
# Entry points


def load_seed(session: Session, path_or_data: Union[str, Path, Mapping[str, Any]], *, actor: str = ACTOR,
              liaison_change_reason: Optional[str] = None) -> SeedReport:
    """Validate then upsert the org chart in the session's transaction; the caller commits.

    Raises SeedError (with every problem) before writing anything if the file is refused.
    """
    data = read_yaml(path_or_data) if isinstance(path_or_data, (str, Path)) else path_or_data
    seed = validate_seed(data, session, liaison_change_reason=liaison_change_reason)
    return _Writer(session, seed, actor, liaison_change_reason).run()


# ---------------------------------------------------------------------------------------------------
# Export: the YAML of what the database holds now (the office's changes in chat included)


def _drop_empty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, [], {}, False) or k in ("version",)}


def export_seed(session: Session, organization: Optional[Mapping[str, Any]] = None) -> dict:
    """The org chart as a seed file's data (docs/org-chart.md): loading it into this database changes
    nothing. Deactivated units and retired 附件2 rows have no place in the schema and are left out;
    every person is kept (the ledger and the groups name them)."""
    org = dict(organization or {"name": "", "short_name": "", "timezone": "Asia/Shanghai"})
    people = list(session.scalars(select(Person).options(selectinload(Person.identities), selectinload(Person.roles))
                                  .order_by(Person.id)))
    key = {p.id: p.key or p.wecom_userid or f"p{p.id}" for p in people}
    units = list(session.scalars(select(Unit).order_by(Unit.id)))
    active_units = [u for u in units if u.active]
    out: dict[str, Any] = {"version": SCHEMA_VERSION, "organization": org}
    out["units"] = [_drop_empty({"name": u.name, "aliases": list(u.aliases or []), "kind": u.kind,
                                 "liaison": key.get(u.liaison_id), "head": key.get(u.head_id)})
                    for u in active_units]
    unit_name = {u.id: u.name for u in active_units}
    out["people"] = [_drop_empty({
        "name": p.name, "key": key[p.id] if key[p.id] != p.wecom_userid else None,
        "wecom_userid": p.wecom_userid, "dingtalk_userid": p.dingtalk_userid, "mobile": p.mobile,
        "title": p.title, "short_title": p.short_title, "unit": unit_name.get(p.unit_id),
        "placeholder": p.placeholder,
        "roles": sorted(r.role for r in p.roles if r.role in EXPLICIT_ROLES)}) for p in people]
    out["groups"] = [_drop_empty({
        "code": g.code, "name": g.name, "source": g.source, "mailbox": g.mailbox, "duties": g.duties,
        "members": [_drop_empty({"person": key[m.person_id], "position": m.position,
                                 "title_in_group": m.title_in_group}) for m in g.members]})
        for g in session.scalars(select(WorkGroup).order_by(WorkGroup.id))]
    out["chats"] = [_drop_empty({"code": c.code, "name": c.name, "channel": c.channel,
                                 "robot_key_env": c.robot_key_env})
                    for c in session.scalars(select(ChatGroup).order_by(ChatGroup.id))]
    out["dispatch_schedule"] = [_drop_empty({
        "seq": r.seq, "leader": key[r.leader_id], "content": r.content, "cycle": r.cycle,
        "lead_units": [u.name for u in r.lead_units if u.active], "lead_units_note": r.lead_units_note,
        "office_supervisor": key.get(r.office_supervisor_id),
        "office_liaisons": [key[p.id] for p in r.office_liaisons]})
        for r in session.scalars(select(DispatchRow).order_by(DispatchRow.seq)) if r.active]
    projects = list(session.scalars(select(KeyProject).order_by(KeyProject.seq, KeyProject.id)))
    if projects:
        first = projects[0]
        kp: dict[str, Any] = _drop_empty({"batch": first.batch, "report_mailbox": first.report_mailbox})
        if first.contact_name:
            kp["report_contact"] = _drop_empty({"name": first.contact_name, "mobile": first.contact_mobile})
        kp["projects"] = [_drop_empty({
            "seq": pr.seq, "name": pr.name, "lead_units": [u.name for u in pr.lead_units],
            "leader": key.get(pr.leader_id),
            "milestones": [{"target": m.target, "deadline": m.deadline.isoformat()}
                           for m in sorted(pr.milestones, key=lambda m: m.seq)]}) for pr in projects]
        out["key_projects"] = kp
    return out


def dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=False, width=120)


def differences(session: Session, path_or_data: Union[str, Path, Mapping[str, Any]]) -> list[str]:
    """What loading the file would change in the database, one line per changed field (`unit 区发改局:
    liaison: wangwu → placeholder_fagaiju`), found by applying it in a savepoint that is rolled back."""
    data = read_yaml(path_or_data) if isinstance(path_or_data, (str, Path)) else path_or_data
    nested = session.begin_nested()
    try:
        seed = validate_seed(data, session, liaison_change_reason="(preview)")
        writer = _Writer(session, seed, ACTOR, "(preview)")
        writer.run()
        return list(writer.changes)
    finally:
        nested.rollback()


def seed_command(db, path: Union[str, Path], reason: Optional[str] = None, *,
                 echo: Callable[[str], None] = print) -> int:
    """Load `path` in one transaction of `db` (a bot.infra.db.Database) and print a summary; returns the exit
    status (0 ok, 2 refused). `python -m bot seed` is this."""
    try:
        with db.session() as s:
            report = load_seed(s, path, liaison_change_reason=reason)
            changes = list(report.changes)
    except SeedError as exc:
        echo(f"种子文件被拒绝 seed refused: {path} — {len(exc.errors)} error(s), nothing written")
        for e in exc.errors:
            echo(f"  - {e}")
        _echo_differences(db, path, echo)
        return 2
    echo(f"种子文件已载入 seed loaded: {path}")
    echo(report.summary())
    if changes:
        echo(f"{len(changes)} change(s) written (each audited, actor seed):")
        for line in changes:
            echo(f"  ~ {line}")
    return 0


def _echo_differences(db, path, echo) -> None:
    """After a refusal for a liaison reason: what the file would change, so nothing the office did in chat
    is undone unseen."""
    try:
        with db.session() as s:
            lines = differences(s, path)
    except SeedError:
        return  # the file itself is invalid: the errors above say why
    if lines:
        echo(f"the file differs from the database in {len(lines)} field(s):")
        for line in lines:
            echo(f"  ~ {line}")
