"""The ReviewWorkflow's side effects: picking the key moments from the incident's timeline, and
writing the review to the projection (with its follow-ups, its events and its notices).

Both idempotent: moments are read, not written; the review row only moves forward in `seq`,
follow-ups likewise, events are keyed by (review, entry number) and notices by a key per entry
and recipient. Notices name the incident, severity and category, never its title or content.
"""

import asyncio
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from vigil.audit import history as histories
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.timeline import TimelineItem, build_timeline
from vigil.db.tables import FollowUpRow, OutboxRow, ReviewEventRow, ReviewRow, UserRow
from vigil.db.upsert import insert_ignore, upsert
from vigil.i18n import LANGUAGES, render
from vigil.workflows.review_state import KeyMoment, Review, ReviewBatch, ReviewEntry, ReviewStart

# The timeline's moments a review starts from: who acted, what changed, which clock was breached;
# not the notes, assignments or Vigil's own bookkeeping (timers, seals, continued runs).
KEY_TYPES = {
    "open",
    "acknowledge",
    "set_severity",
    "escalate",
    "team_response",
    "propose_action",
    "approve",
    "reject",
    "resolve",
    "reopen",
    "merge_into",
    "clock_fired",
    "enforcement_completed",
}
MAX_MOMENTS = 60


def pick_moments(timelines: dict[str, list[TimelineItem]]) -> list[KeyMoment]:
    """The key moments, in each language: the timelines hold the same items in the same order."""
    first = timelines[LANGUAGES[0]]
    picked = []
    for index, item in enumerate(first):
        if item.refused or item.type not in KEY_TYPES:
            continue
        text = {language: items[index].text for language, items in timelines.items()}
        picked.append(KeyMoment(at=item.at, kind=item.kind, type=item.type, actor=item.actor, text=text))
    return picked[:MAX_MOMENTS]


class ReviewActivities:
    def __init__(self, client: Client, engine: Engine, public_url: str):
        self._client = client
        self._engine = engine
        self._public_url = public_url

    @activity.defn(name="start_review")
    async def start_review(self, start: ReviewStart) -> None:
        """Start the incident's ReviewWorkflow, once: a retry, or a second resolution, finds it started.

        Started from here rather than as a child workflow: the audit reads every child of an
        incident as an approval request (vigil.audit.history.approval_ids), and a review child
        made the incident's timeline and replay unreadable. A workflow of its own also outlives
        the incident, as a child with ABANDON would."""
        try:
            await self._client.start_workflow(
                "ReviewWorkflow",
                start,
                id=start.review_id,
                task_queue=activity.info().task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"post-incident review of {start.incident_id}",
            )
        except WorkflowAlreadyStartedError:
            activity.logger.info("review %s already started", start.review_id)

    @activity.defn(name="review_key_moments")
    async def key_moments(self, incident_id: str) -> list[KeyMoment]:
        """Read through the auditor's timeline (vigil.audit.timeline), so they are the same words."""
        history = await histories.fetch(self._client, incident_id)
        reconstruction = Reconstruction(await read_journal(history, self._client.data_converter))
        timelines = {language: build_timeline(reconstruction, language).entries for language in LANGUAGES}
        return pick_moments(timelines)

    @activity.defn(name="project_review")
    async def project_review(self, batch: ReviewBatch) -> None:
        await asyncio.to_thread(self._write, batch)

    def _write(self, batch: ReviewBatch) -> None:
        review = batch.review
        with Session(self._engine) as session, session.begin():
            insert_ignore(session, ReviewEventRow, [_event_row(review, e) for e in batch.entries])
            row = _review_row(review)
            upsert(
                session,
                ReviewRow,
                row,
                keys=["id"],
                update=[k for k in row if k != "id"],
                where=col(ReviewRow.seq) < review.seq,
            )
            for follow_up in _follow_up_rows(review):
                upsert(
                    session,
                    FollowUpRow,
                    follow_up,
                    keys=["id"],
                    update=["owner", "status", "due", "text", "serves", "seq"],
                    where=col(FollowUpRow.seq) < review.seq,
                )
            insert_ignore(session, OutboxRow, self._notices(session, review, batch.entries))

    def _notices(self, session: Session, review: Review, entries: list[ReviewEntry]) -> list[dict[str, Any]]:
        wanted: list[tuple[ReviewEntry, str, str, dict[str, Any]]] = []  # (entry, template, user, context)
        for entry in entries:
            action = entry.action
            if action.type == "review_open":
                wanted.append((entry, "review_opened", action.start.owner, {}))
            elif action.type == "review_assign" and action.owner != entry.actor.user:
                wanted.append((entry, "review_opened", action.owner, {}))
            elif action.type == "review_remind" and action.follow_up_id is None:
                wanted.append((entry, "review_reminder", review.owner, {}))
            elif action.type == "review_remind" and (follow_up := review.follow_up(action.follow_up_id or "")):
                wanted.append((entry, "follow_up_reminder", follow_up.owner, {"follow_up": follow_up}))
            elif action.type == "review_add_follow_up" and action.owner != entry.actor.user:
                follow_up = review.follow_ups[-1] if review.follow_ups else None
                if follow_up is not None:
                    wanted.append((entry, "follow_up_assigned", action.owner, {"follow_up": follow_up}))
        users = {user for _, _, user, _ in wanted}
        found = session.execute(select(col(UserRow.name), col(UserRow.language)).where(col(UserRow.name).in_(users)))
        languages: dict[str, str] = {name: language for name, language in found}
        link = f"{self._public_url}/incidents/{review.incident_id}/review"
        rows = []
        for entry, template, user, context in wanted:
            language = languages.get(user, "en")
            text = render(f"notifications/{template}.txt", language, review=review, link=link, **context)
            subject, _, body = text.partition("\n")
            recipient = f"user:{user}"
            rows.append(
                {
                    "key": f"{review.id}:{entry.entry_no}:{template}:{recipient}",
                    "incident_id": review.incident_id,
                    "kind": template,
                    "recipient": recipient,
                    "language": language,
                    "subject": subject.strip(),
                    "body": body.strip() + "\n",
                    "created_at": entry.at,
                }
            )
        return rows


def _event_row(review: Review, entry: ReviewEntry) -> dict[str, Any]:
    return {
        "review_id": review.id,
        "entry_no": entry.entry_no,
        "incident_id": review.incident_id,
        "type": entry.action.type,
        "actor": entry.actor.user,
        "actor_role": entry.actor.role.value,
        "at": entry.at,
        "action": entry.action.model_dump(mode="json"),
    }


def _review_row(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "incident_id": review.incident_id,
        "status": review.status.value,
        "owner": review.owner,
        "severity": review.severity,
        "category": review.category,
        "opened_at": review.opened_at,
        "due_at": review.due_at,
        "completed_at": review.completed_at,
        "seq": review.seq,
        "review": review.model_dump(mode="json"),
    }


def _follow_up_rows(review: Review) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "review_id": review.id,
            "incident_id": review.incident_id,
            "text": f.text,
            "owner": f.owner,
            "due": f.due_at,
            "serves": f.serves,
            "status": f.status.value,
            "seq": review.seq,
        }
        for f in review.follow_ups
    ]
