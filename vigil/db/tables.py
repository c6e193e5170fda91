"""The SQL projection of Temporal's history, plus users and intake bookkeeping.

Temporal's history is the record of truth; these tables are what lists, search, the approval
inbox and trend analytics read. Activities write them idempotently: every row written from a
history entry has a unique key derived from (incident, entry number), so a retried write
never duplicates.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Table, Text, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel


def _utc(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a table model, for Core statements (inserts, upserts)."""
    # SQLModel's metaclass sets `__table__` on table=True models but does not declare it.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class IncidentRow(SQLModel, table=True):
    """One row per incident: the latest state, and the columns lists filter and sort on."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_opened", "status", "opened_at"),
        Index("ix_incidents_severity_opened", "severity", "opened_at"),
        Index("ix_incidents_category_opened", "category", "opened_at"),
        Index("ix_incidents_region_opened", "region", "opened_at"),
        Index("ix_incidents_channel_opened", "channel", "opened_at"),
        Index("ix_incidents_assignee_opened", "assignee", "opened_at"),
        Index("ix_incidents_opened", "opened_at"),
        Index("ix_incidents_updated", "updated_at"),
        # Keyset pages of the API's list: (sort column, id), so a page is an index range scan.
        Index("ix_incidents_severity_id", "severity", "id"),
        Index("ix_incidents_deadline_id", "next_deadline", "id"),
        Index("ix_incidents_status_severity_id", "status", "severity", "id"),  # a status's work queue
    )

    id: str = Field(primary_key=True, max_length=32)
    title: str = Field(sa_column=Column(Text, nullable=False))
    channel: str = Field(max_length=32)
    category: str = Field(max_length=32)
    region: str = Field(max_length=8)
    language: str = Field(max_length=8)
    severity: str = Field(max_length=8)
    status: str = Field(max_length=24)
    assignee: str | None = Field(default=None, max_length=64)
    external_ref: str | None = Field(default=None, max_length=200)
    opened_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)
    acknowledged_at: datetime | None = _utc(nullable=True)
    resolved_at: datetime | None = _utc(nullable=True)
    closed_at: datetime | None = _utc(nullable=True)
    resolution: str | None = Field(default=None, max_length=32)
    merged_into: str | None = Field(default=None, max_length=32)
    breaches: int = 0
    next_deadline: datetime | None = _utc(nullable=True)
    seq: int = 0  # the lifecycle sequence number of `state`; older writes never overwrite newer
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # its reporter always null:
    # the reporter, encrypted with the payload keys (vigil.need_to_know.seal_reporter)
    reporter_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    history_digest: str | None = Field(default=None, max_length=64)


class IncidentSearchRow(SQLModel, table=True):
    """An incident's searchable words (vigil.db.search), written with its row by the projection.

    Indexed by PostgreSQL in a generated tsvector column `terms` (GIN) and by SQLite in the FTS5
    table `incident_search_fts`, whose rowid is `id`: both made by migration 0009_search, not here.
    """

    __tablename__ = "incident_search"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(unique=True, max_length=32)
    seq: int = 0  # the incident's seq these words are from: older writes never overwrite newer
    document: str = Field(sa_column=Column(Text, nullable=False))


class IncidentEventRow(SQLModel, table=True):
    """Every action applied to (or refused by) an incident, in order."""

    __tablename__ = "incident_events"

    incident_id: str = Field(primary_key=True, max_length=32)
    entry_no: int = Field(primary_key=True)
    seq: int  # lifecycle seq after the entry (unchanged when refused)
    type: str = Field(max_length=32)
    actor: str = Field(max_length=64)
    actor_role: str = Field(max_length=16)
    at: datetime = _utc(nullable=False)
    refused: bool = False
    reason: str | None = Field(default=None, sa_column=Column(Text))
    action: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ApprovalRow(SQLModel, table=True):
    """An approval request: the incident writes the decision, the ApprovalWorkflow the tier asked."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status_requested", "status", "requested_at"),)

    id: str = Field(primary_key=True, max_length=40)
    incident_id: str = Field(index=True, max_length=32)
    action: str = Field(max_length=40)
    rationale: str = Field(sa_column=Column(Text, nullable=False))
    proposed_by: str = Field(max_length=64)
    requested_at: datetime = _utc(nullable=False)
    severity: str = Field(max_length=8)
    region: str = Field(max_length=8)
    quorum: int
    status: str = Field(max_length=16)
    approvers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    votes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decided_at: datetime | None = _utc(nullable=True)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    asked_tier: str | None = Field(default=None, max_length=64)
    asked_round: int = 0  # how many times approvers were asked (1 + timeouts)
    seq: int = 0  # incident seq of the last decision write


class EscalationRow(SQLModel, table=True):
    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("incident_id", "entry_no"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(index=True, max_length=32)
    entry_no: int
    team: str = Field(index=True, max_length=32)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    escalated_by: str = Field(max_length=64)
    escalated_at: datetime = _utc(nullable=False)


class SlaBreachRow(SQLModel, table=True):
    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("incident_id", "entry_no"), Index("ix_breaches_at", "breached_at"))

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(index=True, max_length=32)
    entry_no: int
    clock_id: str = Field(max_length=80)
    clock_kind: str = Field(max_length=16)
    clock_name: str = Field(sa_column=Column(Text, nullable=False))
    severity: str = Field(max_length=8)
    due_at: datetime = _utc(nullable=False)
    breached_at: datetime = _utc(nullable=False)
    late_by_seconds: int
    tier: str = Field(max_length=64)


class EnforcementRow(SQLModel, table=True):
    """What the built-in enforcement adapter did. One row per approved proposal, ever."""

    __tablename__ = "enforcement_actions"

    proposal_id: str = Field(primary_key=True, max_length=40)
    incident_id: str = Field(index=True, max_length=32)
    action: str = Field(max_length=40)
    target: str | None = Field(default=None, sa_column=Column(Text))
    region: str = Field(max_length=8)
    statement_of_reasons: str | None = Field(default=None, sa_column=Column(Text))
    reference: str = Field(max_length=80)
    executed_at: datetime = _utc(nullable=False)
    attempts: int = 1  # how many times the activity ran for it; the action itself ran once


class OutboxRow(SQLModel, table=True):
    """A notice: written with the journal entry that calls for it (`key` makes a retried write a
    no-op), then resolved through the directory into deliveries, one per address."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "delivered_at", "id"),
        Index("ix_outbox_undispatched", "dispatched_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=160)
    incident_id: str | None = Field(default=None, index=True, max_length=32)  # None: the digest
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=80)  # user:ana, team:legal, tier:..., audience:leadership
    language: str = Field(max_length=8)  # of subject and body: the recipient's, else the region's
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _utc(nullable=False)
    delivered_at: datetime | None = _utc(nullable=True)  # every delivery of it sent
    attempts: int = 0  # no longer written: deliveries count their own attempts
    last_error: str | None = Field(default=None, sa_column=Column(Text))  # why it waits, in words
    severity: str | None = Field(default=None, max_length=8)
    occurred_at: datetime | None = _utc(nullable=True)  # what it is about happened then (rotas)
    # The same notice in every language Vigil speaks: {"es": {"subject": ..., "body": ...}}, so
    # each address reads its own (a rota's person may not speak the region's language).
    messages: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    dispatched_at: datetime | None = _utc(nullable=True)  # resolved into deliveries
    resolved_against: str | None = Field(default=None, max_length=64)  # directory version last tried
    alerted_at: datetime | None = _utc(nullable=True)  # the head of IM was told it is overdue


class DeliveryRow(SQLModel, table=True):
    """One notice to one address: sent once, whatever retries, crashes and restarts happen."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notice_key", "address"),
        Index("ix_deliveries_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notice_key: str = Field(max_length=160)
    incident_id: str | None = Field(default=None, index=True, max_length=32)
    address: str = Field(max_length=1000)  # an email address or a webhook URL
    channel: str = Field(max_length=16)  # email, webhook
    language: str = Field(max_length=8)
    status: str = Field(default="pending", max_length=16)  # pending, sent, failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sending_since: datetime | None = _utc(nullable=True)  # an attempt holds it until then + lease
    sent_at: datetime | None = _utc(nullable=True)
    failed_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc(nullable=False)


class ChangeRow(SQLModel, table=True):
    """The change feed behind GET /api/events: one row per journal entry, its id global and
    monotonic (ids commit in order: SQLite has one writer, PostgreSQL takes a lock to insert)."""

    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("incident_id", "entry_no"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(max_length=32)
    entry_no: int
    seq: int
    kind: str = Field(max_length=32)  # the action type
    refused: bool = False
    status: str = Field(max_length=24)
    severity: str = Field(max_length=8)
    assignee: str | None = Field(default=None, max_length=64)
    actor: str = Field(max_length=64)
    at: datetime = _utc(nullable=False)


class IntakeKeyRow(SQLModel, table=True):
    """external_ref -> incident id, so a repeated intake returns the first incident."""

    __tablename__ = "intake_keys"

    external_ref: str = Field(primary_key=True, max_length=200)
    incident_id: str = Field(unique=True, max_length=32)
    created_at: datetime = _utc(nullable=False)


class IdCounterRow(SQLModel, table=True):
    """The last incident number handed out per year: INC-2026-000123."""

    __tablename__ = "id_counters"

    year: int = Field(primary_key=True)
    last: int = 0


class UserRow(SQLModel, table=True):
    """A person. Names are stored lower-case and unique whatever their case (one index on
    lower(name), so names stored before that rule still collide with their case variants)."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_name_lower", func.lower(text("name")), unique=True),)

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    language: str = Field(default="en", max_length=8)
    email: str | None = Field(default=None, max_length=320)  # where notices to user:NAME go
    created_at: datetime = _utc(nullable=False)
    disabled_at: datetime | None = _utc(nullable=True)


class TokenRow(SQLModel, table=True):
    """Bearer tokens, stored as SHA-256 of the token: a leaked table grants nothing."""

    __tablename__ = "tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    user: str = Field(index=True, max_length=64)
    created_at: datetime = _utc(nullable=False)
    revoked_at: datetime | None = _utc(nullable=True)
    # "access": acts as `user`. "enrolment": issued by someone else (an admin, the CLI), it acts
    # on nothing; `user` exchanges it once, before `expires_at`, for an access token of their own.
    kind: str = Field(default="access", max_length=16, sa_column_kwargs={"server_default": "access"})
    issued_by: str | None = Field(default=None, max_length=100)  # a user, or "vigil:..."; None: before 0006
    expires_at: datetime | None = _utc(nullable=True)
    used_at: datetime | None = _utc(nullable=True)  # an enrolment secret: when it was exchanged
    enrolled_from: str | None = Field(default=None, max_length=64)  # access: the secret's hash


class HistorySealRow(SQLModel, table=True):
    """The hash chain over a closed incident's history: its last link is the digest."""

    __tablename__ = "history_seals"

    incident_id: str = Field(primary_key=True, max_length=32)
    digest: str = Field(max_length=64)
    events: int
    chain: list[str] = Field(sa_column=Column(JSON, nullable=False))
    run_ids: list[str | None] = Field(sa_column=Column(JSON, nullable=False))
    sealed_at: datetime = _utc(nullable=False)


class ReplayCheckRow(SQLModel, table=True):
    """The watchdog's last verdict on an open incident: does its history still replay against
    the running code? A diverged incident would stall at its next workflow task (docs/reliability.md)."""

    __tablename__ = "replay_checks"
    __table_args__ = (Index("ix_replay_checks_result", "result"),)

    incident_id: str = Field(primary_key=True, max_length=32)
    checked_seq: int  # the projection's seq when the history was fetched: changed since means check again
    checked_events: int  # events in the history that was replayed
    checked_at: datetime = _utc(nullable=False)
    result: str = Field(max_length=20)  # ok | nondeterministic | failed
    divergence_event: int | None = None  # event number across runs (the audit's numbering)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    diverged_since: datetime | None = _utc(nullable=True)  # first seen not ok, kept until it replays again
    alerted_at: datetime | None = _utc(nullable=True)  # when the head of incident management was told
    repaired_at: datetime | None = _utc(nullable=True)


class RepairRow(SQLModel, table=True):
    """A repair of a diverged incident (vigil.audit.repair): who, why, where it was reset, and what
    came out otherwise for the actions people had been answered for."""

    __tablename__ = "repairs"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(index=True, max_length=32)
    repaired_at: datetime = _utc(nullable=False)
    repaired_by: str = Field(max_length=64)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    old_run_id: str = Field(max_length=64)
    new_run_id: str = Field(max_length=64)
    reset_event: int  # the event across runs the history was reset to
    diverging_event: int
    report: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


# ---------------------------------------------------------------------------- the learning loop
# Facts for trends, written by the projection with the journal entry that makes them
# (vigil/trends/facts.py), so that each trend is one aggregate query over one narrow table.
# Every fact row carries the incident's dimensions as they were then, so no query needs a join:
# severity, category, channel, region, team (the team whose work it is: the region's incident
# team, or the team asked for a first response) and the triage rule it was triaged under.


class MilestoneRow(SQLModel, table=True):
    """A moment in an incident's life: opened, acknowledged, resolved, reopened or merged."""

    __tablename__ = "incident_milestones"
    __table_args__ = (Index("ix_milestones_kind_at", "kind", "at"),)

    incident_id: str = Field(primary_key=True, max_length=32)
    entry_no: int = Field(primary_key=True)
    kind: str = Field(max_length=16)
    at: datetime = _utc(nullable=False)
    seconds: float | None = None  # acknowledged, resolved: since the incident was opened
    severity: str = Field(max_length=8)
    category: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    region: str = Field(max_length=8)
    team: str = Field(max_length=32)
    triage_rule: str = Field(max_length=300)


class ClockOutcomeRow(SQLModel, table=True):
    """One round of an SLA or regulatory clock, once it is late or over: met, met_late, missed
    (ended unmet after a breach), running_late (breached, still running) or cancelled (ended
    unmet before it was due). Rewritten as the round moves on (entry_no only grows)."""

    __tablename__ = "clock_outcomes"
    __table_args__ = (Index("ix_clock_outcomes_due", "due_at"), Index("ix_clock_outcomes_clock_due", "clock", "due_at"))

    incident_id: str = Field(primary_key=True, max_length=32)
    clock_id: str = Field(primary_key=True, max_length=80)  # sla.first_response.legal, regulatory.ncmec_report
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    entry_no: int  # the journal entry that wrote this outcome
    clock: str = Field(max_length=80)  # what trends group by: sla.first_response, regulatory.ncmec_report
    kind: str = Field(max_length=16)  # sla | regulatory
    due_at: datetime = _utc(nullable=False)
    ended_at: datetime | None = _utc(nullable=True)
    outcome: str = Field(max_length=16)
    seconds: float | None = None  # met, met_late: from start to met
    late_by_seconds: float | None = None
    severity: str = Field(max_length=8)
    category: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    region: str = Field(max_length=8)
    team: str = Field(max_length=32)
    triage_rule: str = Field(max_length=300)


class SeverityChangeRow(SQLModel, table=True):
    """A lead raised or lowered an incident's severity."""

    __tablename__ = "severity_changes"
    __table_args__ = (Index("ix_severity_changes_at", "at"),)

    incident_id: str = Field(primary_key=True, max_length=32)
    entry_no: int = Field(primary_key=True)
    at: datetime = _utc(nullable=False)
    from_severity: str = Field(max_length=8)
    to_severity: str = Field(max_length=8)
    direction: str = Field(max_length=8)  # raised | lowered
    changed_by: str = Field(max_length=64)
    triaged_severity: str = Field(max_length=8)
    category: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    region: str = Field(max_length=8)
    team: str = Field(max_length=32)
    triage_rule: str = Field(max_length=300)


class EnforcementOutcomeRow(SQLModel, table=True):
    """What became of an approved action: done, or failed (refused by the platform)."""

    __tablename__ = "enforcement_outcomes"
    __table_args__ = (Index("ix_enforcement_outcomes_at", "at"),)

    incident_id: str = Field(primary_key=True, max_length=32)
    entry_no: int = Field(primary_key=True)
    proposal_id: str = Field(max_length=40)
    action: str = Field(max_length=40)
    outcome: str = Field(max_length=16)
    at: datetime = _utc(nullable=False)
    severity: str = Field(max_length=8)
    category: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    region: str = Field(max_length=8)
    team: str = Field(max_length=32)
    triage_rule: str = Field(max_length=300)


class ReviewRow(SQLModel, table=True):
    """A post-incident review as its ReviewWorkflow last wrote it (`review` is the whole record)."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_owner_status", "owner", "status"), Index("ix_reviews_due", "due_at"))

    id: str = Field(primary_key=True, max_length=48)
    incident_id: str = Field(unique=True, max_length=32)
    status: str = Field(max_length=16)
    owner: str = Field(max_length=64)
    severity: str = Field(max_length=8)
    category: str = Field(max_length=32)
    opened_at: datetime = _utc(nullable=False)
    due_at: datetime = _utc(nullable=False)
    completed_at: datetime | None = _utc(nullable=True)
    seq: int = 0  # the review's own sequence number: older writes never overwrite newer
    review: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class FollowUpRow(SQLModel, table=True):
    """A follow-up action from a review: it shows in its owner's queue until it is done."""

    __tablename__ = "review_follow_ups"
    __table_args__ = (Index("ix_follow_ups_owner_status_due", "owner", "status", "due"),)

    id: str = Field(primary_key=True, max_length=56)
    review_id: str = Field(index=True, max_length=48)
    incident_id: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=64)
    due: datetime = _utc(nullable=False)
    serves: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(max_length=16)
    seq: int = 0


class ReviewEventRow(SQLModel, table=True):
    """Every change to a review, in order: the review's own timeline."""

    __tablename__ = "review_events"

    review_id: str = Field(primary_key=True, max_length=48)
    entry_no: int = Field(primary_key=True)
    incident_id: str = Field(index=True, max_length=32)
    type: str = Field(max_length=40)
    actor: str = Field(max_length=64)
    actor_role: str = Field(max_length=16)
    at: datetime = _utc(nullable=False)
    action: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class RevokedSessionRow(SQLModel, table=True):
    """A console session signed out before its cookie expired: the cookie opens nothing any more."""

    __tablename__ = "revoked_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the session's nonce (vigil.console.session)
    expires_at: datetime = _utc(nullable=False, index=True)  # when the cookie would have expired anyway


class EvidenceRow(SQLModel, table=True):
    """An evidence file: its hashes, where its encrypted bytes are, and how long it is kept
    (vigil.evidence). The bytes themselves are never in the database."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_incident_uploaded", "incident_id", "uploaded_at"),)

    id: str = Field(primary_key=True, max_length=40)
    incident_id: str = Field(max_length=32)
    category: str = Field(max_length=32)  # the incident's, at upload: what the warning names
    sha256: str = Field(index=True, max_length=64)
    perceptual_hash: str | None = Field(default=None, max_length=80)  # images: hex
    media_type: str = Field(max_length=100)
    size: int
    description: str | None = Field(default=None, sa_column=Column(Text))
    graphic: bool = False
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = _utc(nullable=False)
    preserved_until: datetime | None = _utc(nullable=True)
    legal_hold: bool = False
    legal_hold_by: str | None = Field(default=None, max_length=64)
    legal_hold_reason: str | None = Field(default=None, sa_column=Column(Text))
    blob_key: str = Field(max_length=200)
    thumbnail_key: str | None = Field(default=None, max_length=200)
    deleted_at: datetime | None = _utc(nullable=True)  # deleted by a person, or purged
    deleted_by: str | None = Field(default=None, max_length=64)


class CustodyRow(SQLModel, table=True):
    """The chain of custody: every upload, view, download, hold, deletion and purge of an item."""

    __tablename__ = "evidence_custody"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(index=True, max_length=40)
    incident_id: str = Field(max_length=32)
    event: str = Field(max_length=24)
    actor: str = Field(max_length=64)
    actor_role: str = Field(max_length=16)
    at: datetime = _utc(nullable=False)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class ExposureRow(SQLModel, table=True):
    """One person seeing sensitive content: a reveal in the console, or a fetch of the bytes.
    Health data: read only by the person, their leads and auditors (vigil.roles)."""

    __tablename__ = "exposures"
    __table_args__ = (Index("ix_exposures_person_at", "person", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(max_length=64)
    incident_id: str = Field(max_length=32)
    evidence_id: str | None = Field(default=None, max_length=40)
    content_index: int | None = None  # a content link of the incident, when not an evidence item
    category: str = Field(max_length=32)
    sensitive: bool = True  # counts toward the daily soft limit (policy wellbeing)
    kind: str = Field(max_length=16)  # reveal | fetch
    at: datetime = _utc(nullable=False)
    seconds: float = 0.0  # how long it stayed revealed, as the browser reports it


class ViewingPreferenceRow(SQLModel, table=True):
    """How a person wants sensitive content shown; the row named '*' is the team's default (leads)."""

    __tablename__ = "viewing_preferences"

    person: str = Field(primary_key=True, max_length=64)
    blur: int = 24  # CSS pixels
    greyscale: bool = True
    autoplay: bool = False
    updated_at: datetime = _utc(nullable=False)
    updated_by: str = Field(max_length=64)


class SavedViewRow(SQLModel, table=True):
    """A person's saved queue: a name and the queue's filters (vigil.api.routers.views), theirs alone."""

    __tablename__ = "saved_views"
    __table_args__ = (Index("ix_saved_views_owner_name", "owner", func.lower(text("name")), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=64)
    name: str = Field(max_length=80)
    filters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(nullable=False)


class TitleSeenRow(SQLModel, table=True):
    """That a person has opened a sensitive incident's page: lists show them its title from then on
    (console/masking.py). Not an exposure: a title is words, the content stays veiled."""

    __tablename__ = "titles_seen"

    person: str = Field(primary_key=True, max_length=64)
    incident_id: str = Field(primary_key=True, max_length=32)
    first_seen_at: datetime = _utc(nullable=False)
