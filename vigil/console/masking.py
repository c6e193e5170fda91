"""Titles of sensitive incidents in lists (the queue, the approvals inbox): masked until the person
has opened the incident's page once, since some titles say what the content shows. The policy's
`[wellbeing]` says which categories are sensitive; downloads (the queue's CSV) stay masked for
everyone, since a file leaves the screen it was read on."""

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, Row, select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.db.tables import TitleSeenRow
from vigil.db.upsert import insert_ignore
from vigil.i18n import gettext_for, label
from vigil.policy import Wellbeing, load_policy


def masked_title(
    title: str, category: str, language: str, wellbeing: Wellbeing | None = None, seen: bool = False
) -> str:
    """A list's title of an incident: masked where the category is sensitive and the reader has
    not opened the incident yet."""
    wellbeing = wellbeing or load_policy().wellbeing
    if seen or not wellbeing.sensitive(category):
        return title
    gettext = gettext_for(language)
    return gettext("[Sensitive: %(category)s. Open the incident to read its title]") % {
        "category": label(category, language)
    }


def mask_rows(rows: Sequence[Row[Any]], language: str, seen: Collection[str] = ()) -> list[SimpleNamespace]:
    """The queue's rows with sensitive titles masked, but for the incidents in `seen` (`masked`
    says which rows are sensitive: the queue's hints use it whether or not the title shows)."""
    wellbeing = load_policy().wellbeing
    return [
        SimpleNamespace(
            **{
                **row._mapping,
                "title": masked_title(row.title, row.category, language, wellbeing, row.id in seen),
                "masked": wellbeing.sensitive(row.category),
            }
        )
        for row in rows
    ]


def title_read(engine: Engine, person: str, incident_id: str, category: str) -> None:
    """Record that `person` opened a sensitive incident (once; a second opening changes nothing)."""
    if not load_policy().wellbeing.sensitive(category):
        return
    with Session(engine) as session:
        row = {"person": person, "incident_id": incident_id, "first_seen_at": datetime.now(UTC)}
        insert_ignore(session, TitleSeenRow, [row])
        session.commit()


def titles_seen(engine: Engine, person: str, incident_ids: Collection[str]) -> set[str]:
    """Which of these incidents `person` has opened."""
    if not incident_ids:
        return set()
    query = select(col(TitleSeenRow.incident_id)).where(
        col(TitleSeenRow.person) == person, col(TitleSeenRow.incident_id).in_(list(incident_ids))
    )
    with Session(engine) as session:
        return set(session.scalars(query))
