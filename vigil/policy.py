"""The operator's policy file: triage rules, SLA clocks, approvals, regulatory clocks.

The models here are pure (the workflow sandbox imports them); `load_policy` is the only I/O.
Each incident records the policy it was triaged under, so changing the file affects new
incidents only and an auditor can always see which rule applied.
"""

import hashlib
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from vigil.domain import Category, Channel, EnforcementAction, Region, Severity

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: object) -> timedelta:
    """'90s', '15m', '4h', '7d' -> timedelta. Already-parsed values pass through."""
    try:
        return _parse_duration(value)
    except OverflowError:  # pydantic reports ValueError with the key; OverflowError would escape
        raise ValueError(f"invalid duration {value!r}: too long") from None


def _parse_duration(value: object) -> timedelta:
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. 90s, 15m, 4h, 7d")
    if isinstance(value, (int, float, timedelta)):  # numbers are seconds, as JSON round-trips store them
        parsed = value if isinstance(value, timedelta) else timedelta(seconds=value)
        if parsed <= timedelta(0):
            raise ValueError(f"invalid duration {value!r}: must be longer than zero")
        if parsed > MAX_DURATION:
            raise ValueError(f"invalid duration {value!r}: at most {MAX_DURATION.days}d")
        return parsed
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. 90s, 15m, 4h, 7d")
    amount, unit = match.groups()
    if int(amount) == 0:
        raise ValueError(f"invalid duration {value!r}: must be longer than zero")
    parsed = timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])
    if parsed > MAX_DURATION:  # a deadline past this is a typo, and date arithmetic would overflow
        raise ValueError(f"invalid duration {value!r}: at most {MAX_DURATION.days}d")
    return parsed


# In JSON (Temporal payloads carry the policy) a duration is its number of seconds, which
# parse_duration reads back; pydantic's default ISO 8601 form ("PT15M") would not parse.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda value: value.total_seconds(), return_type=float, when_used="json"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriageRule(_Strict):
    """Matches when every listed criterion matches; an empty list matches anything."""

    categories: list[Category] = []
    channels: list[Channel] = []
    regions: list[Region] = []
    min_reach: int = Field(0, ge=0)
    severity: Severity
    why: str = ""
    why_es: str = ""  # the reason in Spanish, for the console (else `why` is shown)

    def matches(self, category: Category, channel: Channel, region: Region, reach: int) -> bool:
        return (
            (not self.categories or category in self.categories)
            and (not self.channels or channel in self.channels)
            and (not self.regions or region in self.regions)
            and reach >= self.min_reach
        )


class Triage(_Strict):
    default: Severity = Severity.SEV4
    rules: list[TriageRule] = []


class SlaClocks(_Strict):
    acknowledge: Duration
    first_response: Duration  # from an escalation to that team's first answer
    resolve: Duration
    reminder: Duration  # after a breach, notify again this often until the clock is met


class Escalation(_Strict):
    """Who is notified on the n-th breach of a clock; the last tier repeats."""

    tiers: list[str] = Field(min_length=1)


class Approval(_Strict):
    timeout: Duration
    tiers: list[str] = Field(min_length=1)  # asked in turn, one per timeout; the last repeats
    severities: list[Severity] = []  # any proposed action on these needs approval
    always: list[EnforcementAction] = []  # these need approval at any severity
    quorum: dict[Severity, int] = {}  # distinct leads needed; 1 where absent

    @model_validator(mode="after")
    def _quorum_positive(self) -> "Approval":
        for severity, count in self.quorum.items():
            if count < 1:
                raise ValueError(f"quorum.{severity}: must be at least 1")
        return self

    def needed(self, action: EnforcementAction, severity: Severity) -> bool:
        return action in self.always or severity in self.severities

    def quorum_for(self, severity: Severity) -> int:
        return self.quorum.get(severity, 1)


class RegulatoryClock(_Strict):
    """A legal deadline that starts at intake when the incident matches."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    name_es: str = ""  # the name in Spanish, for the console (else `name` is shown)
    categories: list[Category] = []
    channels: list[Channel] = []
    regions: list[Region] = []
    due: Duration
    met_by: list[EnforcementAction] = Field(min_length=1)
    reminder: Duration | None = None
    preserve_evidence: Duration | None = None

    def applies(self, category: Category, channel: Channel, region: Region) -> bool:
        return (
            (not self.categories or category in self.categories)
            and (not self.channels or channel in self.channels)
            and (not self.regions or region in self.regions)
        )


class StatementOfReasons(_Strict):
    """EU DSA art. 17: restricting content or accounts needs a statement of reasons."""

    regions: list[Region] = []
    actions: list[EnforcementAction] = []

    def required(self, region: Region, action: EnforcementAction) -> bool:
        return region in self.regions and action in self.actions


class Reopen(_Strict):
    window: Duration


class StatusUpdates(_Strict):
    """How often an incident's audiences must hear how it stands (post_update). Off unless the
    file sets a cadence: an incident triaged under a policy without one never gets the clock."""

    cadence: dict[Severity, Duration] = {}  # severities absent here have no cadence
    while_regulatory: Duration | None = None  # at most this long while a legal clock runs

    def interval(self, severity: Severity, regulatory_running: bool) -> timedelta | None:
        every = self.cadence.get(severity)
        if every is not None and regulatory_running and self.while_regulatory is not None:
            every = min(every, self.while_regulatory)
        return every


class Notifications(_Strict):
    """How notices are delivered (read by the worker from the file in force, not per incident)."""

    retry_max_interval: Duration = timedelta(minutes=5)  # backoff between attempts grows to this
    alert_after: Duration = timedelta(minutes=15)  # still unsent after this: tell the head of IM
    check_every: Duration = timedelta(seconds=30)  # the dispatcher looks for work at least this often
    concurrency: int = Field(32, ge=1, le=500)  # deliveries in flight at once


class DigestSchedule(_Strict):
    """The daily leadership digest (a Temporal Schedule). Off unless the file sets it."""

    at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # "08:00"
    zone: str = Field("UTC", pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")  # an IANA zone name


class PostIncidentReview(_Strict):
    """Resolving an incident of these severities opens a review (vigil.workflows.review)."""

    severities: list[Severity] = [Severity.SEV1, Severity.SEV2]
    due: Duration = timedelta(days=5)  # after the resolution
    reminder: Duration = timedelta(days=1)  # from the due date on, until the review is completed
    follow_up_reminder: Duration = timedelta(days=1)  # a follow-up past its due date, until it is done


class Finding(_Strict):
    """When a pattern in the trends becomes a recommendation: at least `min_count` cases, and a
    share of them above `threshold` (0.25 = 25 %). `severities` narrows the cases where it applies."""

    enabled: bool = True
    threshold: float = Field(ge=0, le=1)
    min_count: int = Field(ge=1)
    severities: list[Severity] = []


class Recommendations(_Strict):
    """The rules that turn trends into recommendations (vigil.trends.recommend)."""

    # A triage rule whose incidents leads lower: the rule sets too high a severity.
    triage_lowered: Finding = Finding(threshold=0.3, min_count=10)
    # A team that misses its first-response clock (at these severities).
    team_first_response_missed: Finding = Finding(threshold=0.2, min_count=5, severities=[Severity.SEV1])
    # Approvals that reach this tier or a later one (1 = the first tier asked).
    approval_tier_reached: Finding = Finding(threshold=0.25, min_count=5)
    approval_tier: int = Field(2, ge=2)
    # A category whose resolved incidents are reopened.
    category_reopened: Finding = Finding(threshold=0.15, min_count=10)
    # A regulatory clock met late or missed: any share above the threshold (0: even once).
    regulatory_late: Finding = Finding(threshold=0.0, min_count=1)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class WeeklyReport(_Strict):
    """The weekly leadership report, made by a Temporal Schedule at this local time."""

    weekday: str = "monday"
    time: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    time_zone: str = "UTC"
    compare_weeks: int = Field(4, ge=1, le=12)  # the week against the average of this many before it
    audience: str = Field("leadership", pattern=r"^[a-z0-9_]+$")

    @model_validator(mode="after")
    def _known_day_and_zone(self) -> "WeeklyReport":
        if self.weekday not in _WEEKDAYS:
            raise ValueError(f"weekday: one of {', '.join(_WEEKDAYS)}")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone: unknown time zone {self.time_zone!r}") from None
        return self


_NOT_SENSITIVE = (Category.SPAM_SCAM, Category.MISINFORMATION, Category.OTHER)


class Wellbeing(_Strict):
    """What the console hides until a person chooses to see it, and when it suggests a break
    (docs/wellbeing.md). Read from the file in force by the API and console, never by workflows."""

    # Content and evidence of these categories (and anything marked graphic) is blurred,
    # greyscale and muted until clicked; incident titles in these categories are masked in lists.
    sensitive_categories: list[Category] = [c for c in Category if c not in _NOT_SENSITIVE]
    # A person's daily soft limit: past either, the console asks for a break and offers a handover.
    daily_reveals: int = Field(40, ge=1, le=10_000)
    daily_minutes: int = Field(60, ge=1, le=1440)

    def sensitive(self, category: str, graphic: bool = False) -> bool:
        return graphic or category in self.sensitive_categories


class Policy(_Strict):
    version: str = Field(min_length=1)
    triage: Triage
    sla: dict[Severity, SlaClocks]
    escalation: Escalation
    approval: Approval
    regulatory: list[RegulatoryClock] = []
    statement_of_reasons: StatementOfReasons = StatementOfReasons()
    reopen: Reopen
    updates: StatusUpdates = StatusUpdates()
    notifications: Notifications = Notifications()
    digest: DigestSchedule | None = None
    # Start a new run of an incident's workflow past this many history events; Temporal
    # warns at 10,240 and refuses at 51,200.
    history_events_limit: int = Field(8000, ge=100, le=10_000)
    # The learning loop. Defaults, so policies recorded before these keys existed still read.
    review: PostIncidentReview = PostIncidentReview()
    recommendations: Recommendations = Recommendations()
    weekly_report: WeeklyReport = WeeklyReport()
    # Wellbeing and evidence (docs/wellbeing.md). A default, so policies recorded before it still read.
    wellbeing: Wellbeing = Wellbeing()

    @model_validator(mode="after")
    def _every_severity_has_slas(self) -> "Policy":
        missing = [s.value for s in Severity if s not in self.sla]
        if missing:
            raise ValueError(f"sla: missing {', '.join(missing)}")
        ids = [clock.id for clock in self.regulatory]
        if len(ids) != len(set(ids)):
            raise ValueError("regulatory: clock ids must be unique")
        return self

    def shared(self) -> "Policy":
        """This policy, as the one object every incident triaged under it shares in this process.

        Each incident keeps the policy it was triaged under, and a worker keeps up to
        VIGIL_WORKER_CACHE incidents in memory: one copy each was about 20 KB an incident. Policies
        are frozen and compared by content, so sharing changes nothing but memory."""
        return _SHARED.setdefault(self.model_dump_json(), self)

    def text_in(self, english: str, language: str) -> str:
        """A triage reason or a legal clock's name in `language` (`why_es`, `name_es`), when this
        policy gives one for the English text an incident recorded; else the English text."""
        if language != "es":
            return english
        for rule in self.triage.rules:
            if rule.why == english and rule.why_es:
                return rule.why_es
        for clock in self.regulatory:
            if clock.name == english and clock.name_es:
                return clock.name_es
        return english

    def triage_severity(
        self, category: Category, channel: Channel, region: Region, reach: int
    ) -> tuple[Severity, list[str]]:
        """The most severe matching rule wins, so rule order never matters."""
        matched = [r for r in self.triage.rules if r.matches(category, channel, region, reach)]
        if not matched:
            return self.triage.default, ["no triage rule matched: default severity"]
        worst = min(r.severity for r in matched)  # "SEV1" < "SEV2"
        return worst, [r.why or r.severity.value for r in matched if r.severity == worst]


class PolicyError(Exception):
    """The policy file cannot be used; the message names the file and the key."""


def _format_errors(source: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {message}")
    return f"policy file {source} is invalid:\n" + "\n".join(lines)


def parse_policy(text: str, source: str = "<string>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {source} is not valid TOML: {exc}") from exc
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_format_errors(source, exc)) from exc
    if policy.digest is not None:
        _check_zone(policy.digest.zone, source)
    return policy


def _check_zone(zone: str, source: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"policy file {source} is invalid:\n  digest.zone: unknown time zone {zone!r}") from None


def policy_path() -> Path:
    return Path(os.environ.get("VIGIL_POLICY") or DEFAULT_POLICY_PATH)


def load_policy(path: Path | None = None) -> Policy:
    path = path or policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy file {path} cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy file {path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    return parse_policy(text, str(path))


def policy_digest(policy: Policy) -> str:
    """Short fingerprint recorded with each incident, so an auditor can tell policies apart."""
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:12]


# Distinct policies this process has seen, by content: a handful over a deployment's life.
_SHARED: dict[str, Policy] = {}
