"""Evidence items: capture (hashes, sniffed type, thumbnail, preservation), reads that leave a
custody event and an exposure, legal holds, deletion refused while preserved, and the purge.

Synchronous (SQLAlchemy sessions); the API calls it in a thread, the purge activity directly.
"""

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.config import Settings
from vigil.db.tables import CustodyRow, EvidenceRow, ExposureRow, IncidentRow
from vigil.evidence import media
from vigil.evidence.messages import PurgeStep
from vigil.evidence.store import BlobMissing, BlobStore, SealedStore, StoreUnavailable, backend_for
from vigil.policy import Policy
from vigil.temporal.codec import load_or_create_keys

log = logging.getLogger("vigil.evidence")

SYSTEM_ACTOR = ("vigil", "system")
_EVIDENCE_ID = re.compile(r"EV-[0-9a-f]{20}")
# A held item's purge timer looks again this often even if nobody says the hold was lifted.
HOLD_RECHECK = timedelta(days=7)


def is_evidence_id(value: str) -> bool:
    """An id Vigil could have given: anything else (a NUL, a path, 10 KB) is simply not found,
    and never reaches the database (PostgreSQL refuses a NUL in text with an error)."""
    return _EVIDENCE_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Who:
    name: str
    role: str


class Preserved(Exception):
    """Deleting an item that must be kept: the message says until when, or that a hold is on it."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def preserved_until(incident: IncidentRow, policy: Policy, now: datetime) -> datetime | None:
    """How long an item added now must be kept: the incident's own hold (set at triage from the
    policy it was triaged under) and the policy in force's `preserve_evidence` counted from now
    (18 U.S.C. 2258A: a year from the report), whichever is later."""
    candidates = []
    hold = incident.state.get("evidence_hold_until")
    if hold:
        candidates.append(_aware(datetime.fromisoformat(hold)))
    for rule in policy.regulatory:
        if rule.preserve_evidence and rule.applies(incident.category, incident.channel, incident.region):  # type: ignore[arg-type]
            candidates.append(now + rule.preserve_evidence)
    return max((c for c in candidates if c is not None), default=None)


class Vault:
    def __init__(self, engine: Engine, store: BlobStore, max_bytes: int):
        self.engine = engine
        self.store = store
        self.max_bytes = max_bytes

    @classmethod
    def from_settings(cls, engine: Engine, config: Settings) -> "Vault":
        ring = load_or_create_keys(config.encryption_keys_env, config.keys_file)
        return cls(engine, SealedStore(backend_for(config), ring), config.evidence_max_bytes)

    # ------------------------------------------------------------------ capture

    def add(
        self,
        incident: IncidentRow,
        data: bytes,
        who: Who,
        policy: Policy,
        description: str | None = None,
        graphic: bool = False,
    ) -> EvidenceRow:
        """Store a file (MediaRefused for one the vault does not take)."""
        analysis = media.analyse(data)
        now = _now()
        evidence_id = f"EV-{uuid.uuid4().hex[:20]}"  # the shape is_evidence_id knows
        row = EvidenceRow(
            id=evidence_id,
            incident_id=incident.id,
            category=incident.category,
            sha256=hashlib.sha256(data).hexdigest(),
            perceptual_hash=analysis.perceptual_hash,
            media_type=analysis.media_type,
            size=len(data),
            description=description,
            graphic=graphic,
            uploaded_by=who.name,
            uploaded_at=now,
            preserved_until=preserved_until(incident, policy, now),
            blob_key=evidence_id,
            thumbnail_key=f"{evidence_id}.thumb" if analysis.thumbnail else None,
        )
        written: list[str] = []
        try:
            self.store.put(row.blob_key, data)
            written.append(row.blob_key)
            if analysis.thumbnail and row.thumbnail_key:
                self.store.put(row.thumbnail_key, analysis.thumbnail)
                written.append(row.thumbnail_key)
            with Session(self.engine, expire_on_commit=False) as session:
                session.add(row)
                session.add(self._custody(row, "upload", who, now, f"sha256 {row.sha256}, {row.size} bytes"))
                session.commit()
        except BaseException:
            # Unrecorded bytes would be evidence nobody knows of, never purged: take them back.
            self._forget(written)
            raise
        return row

    def _forget(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.store.delete(key)
            except StoreUnavailable:
                log.error("evidence blob %s was stored but not recorded and could not be deleted", key)

    # ------------------------------------------------------------------ reads

    def items(self, incident_id: str) -> list[EvidenceRow]:
        with Session(self.engine, expire_on_commit=False) as session:
            query = (
                select(EvidenceRow)
                .where(col(EvidenceRow.incident_id) == incident_id, col(EvidenceRow.deleted_at).is_(None))
                .order_by(col(EvidenceRow.uploaded_at), col(EvidenceRow.id))
            )
            return list(session.scalars(query))

    def item(self, evidence_id: str) -> EvidenceRow | None:
        if not is_evidence_id(evidence_id):
            return None
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(EvidenceRow, evidence_id)

    def also_in(self, rows: list[EvidenceRow]) -> dict[str, list[str]]:
        """For each item, the other incidents holding the same file (SHA-256) or the same picture
        (PDQ within PDQ_MATCH_DISTANCE bits)."""
        if not rows:
            return {}
        incident_ids = {r.incident_id for r in rows}
        with Session(self.engine) as session:
            others = session.execute(
                select(col(EvidenceRow.incident_id), col(EvidenceRow.sha256), col(EvidenceRow.perceptual_hash)).where(
                    col(EvidenceRow.deleted_at).is_(None), col(EvidenceRow.incident_id).not_in(incident_ids)
                )
            ).all()
        found: dict[str, list[str]] = {}
        for row in rows:
            matches = set()
            for incident_id, sha256, phash in others:
                if sha256 == row.sha256 or (
                    phash
                    and row.perceptual_hash
                    and media.distance(phash, row.perceptual_hash) <= media.PDQ_MATCH_DISTANCE
                ):
                    matches.add(incident_id)
            found[row.id] = sorted(matches)
        return found

    def content(self, row: EvidenceRow, who: Who, sensitive: bool, download: bool, counted: bool = False) -> bytes:
        """The bytes; a custody event (view or download) and an exposure are recorded first
        (`counted`: the console's reveal just before this fetch was the exposure). Read before
        anything is recorded, so a store that cannot answer leaves no view nobody had."""
        data = self.store.get(row.blob_key)
        now = _now()
        with Session(self.engine) as session:
            session.add(self._custody(row, "download" if download else "view", who, now, None))
            if not counted:
                session.add(
                    ExposureRow(
                        person=who.name,
                        incident_id=row.incident_id,
                        evidence_id=row.id,
                        category=row.category,
                        sensitive=sensitive,
                        kind="fetch",
                        at=now,
                    )
                )
            session.commit()
        return data

    def thumbnail(self, row: EvidenceRow) -> bytes | None:
        if row.thumbnail_key is None:
            return None
        try:
            return self.store.get(row.thumbnail_key)
        except BlobMissing:
            return None

    def custody(self, evidence_id: str) -> list[CustodyRow]:
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(CustodyRow).where(col(CustodyRow.evidence_id) == evidence_id).order_by(col(CustodyRow.id))
            return list(session.scalars(query))

    # ------------------------------------------------------------------ keeping and letting go

    def set_hold(self, evidence_id: str, who: Who, on: bool, reason: str | None) -> EvidenceRow:
        now = _now()
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(EvidenceRow, evidence_id, with_for_update=True)
            assert row is not None
            row.legal_hold = on
            row.legal_hold_by = who.name if on else None
            row.legal_hold_reason = reason if on else None
            session.add(self._custody(row, "hold_set" if on else "hold_cleared", who, now, reason))
            session.commit()
            return row

    def delete(self, evidence_id: str, who: Who) -> EvidenceRow:
        """Delete an item nobody must keep any more; Preserved otherwise."""
        now = _now()
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(EvidenceRow, evidence_id, with_for_update=True)
            assert row is not None
            refusal = self.keeping(row, now)
            if refusal:
                raise Preserved(refusal)
            self._remove(session, row, "delete", who, now, None)
            session.commit()
            return row

    def purge_if_due(self, evidence_id: str, now: datetime) -> PurgeStep:
        """The purge timer's step: purge an item whose preservation has ended, or say how long to wait."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(EvidenceRow, evidence_id, with_for_update=True)
            if row is None or row.deleted_at is not None:
                return PurgeStep(done=True, outcome=f"{evidence_id} was already gone")
            if row.legal_hold:
                return PurgeStep(done=False, wait_until=now + HOLD_RECHECK, outcome="on legal hold")
            until = _aware(row.preserved_until)
            if until is not None and until > now:
                return PurgeStep(done=False, wait_until=until, outcome=f"preserved until {until.isoformat()}")
            detail = f"preservation ended {until.isoformat()}" if until else "no preservation"
            self._remove(session, row, "purge", Who(*SYSTEM_ACTOR), now, detail)
            session.commit()
            return PurgeStep(done=True, outcome=f"purged {evidence_id}: {detail}")

    @staticmethod
    def keeping(row: EvidenceRow, now: datetime) -> str | None:
        """Why the item must still be kept, or None."""
        if row.legal_hold:
            return f"{row.id} is under a legal hold set by {row.legal_hold_by}: a lead must lift it first"
        until = _aware(row.preserved_until)
        if until is not None and until > now:
            return f"{row.id} is preserved until {until.strftime('%Y-%m-%d %H:%M UTC')} (policy preserve_evidence)"
        return None

    def _remove(
        self, session: Session, row: EvidenceRow, event: str, who: Who, now: datetime, detail: str | None
    ) -> None:
        for key in (row.thumbnail_key, row.blob_key):  # the original last: a live row keeps it
            if key:
                self.store.delete(key)
        row.deleted_at = now
        row.deleted_by = who.name
        session.add(row)
        session.add(self._custody(row, event, who, now, detail))

    @staticmethod
    def _custody(row: EvidenceRow, event: str, who: Who, now: datetime, detail: str | None) -> CustodyRow:
        return CustodyRow(
            evidence_id=row.id,
            incident_id=row.incident_id,
            event=event,
            actor=who.name,
            actor_role=who.role,
            at=now,
            detail=detail,
        )
