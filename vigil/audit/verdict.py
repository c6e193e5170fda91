"""Is an incident's history still the one sealed at close? The verdict, computed and shaped once.

`GET /api/incidents/{id}/verify` gives it for the history Temporal keeps; `vigil audit verify
FILE` for an exported copy, checked here against the seal the API stores (`GET .../seal`).
Both call `verification`, so an auditor reads the same verdict either way.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from vigil.audit.counts import HistoryCounts, count_history
from vigil.audit.digest import verify
from vigil.audit.history import EventRef, IncidentHistory


class StoredSeal(BaseModel):
    incident_id: str
    digest: str = Field(description="SHA-256: the last link of the chain")
    events: int = Field(description="Events the seal covers, across runs (up to the seal's own scheduling)")
    chain: list[str] = Field(description="One link per event: sha256(previous link + the event's canonical JSON)")
    run_ids: list[str | None]
    sealed_at: datetime
    search_attribute: str | None = Field(description="The HistoryDigest search attribute Temporal keeps, if readable")


class Verification(BaseModel):
    incident_id: str
    intact: bool
    events: int = Field(description="Sealed events found in the history")
    sealed_events: int
    first_altered_event: int | None = Field(description="Number (across runs) of the first event that differs")
    first_altered: EventRef | None
    digest: str
    search_attribute_matches: bool | None = Field(description="Whether Temporal's HistoryDigest agrees with the seal")
    detail: str
    counts: HistoryCounts = Field(description="The whole history checked, as every audit report counts it")

    def of_copy(self) -> dict[str, Any]:
        """The verdict on an exported copy, as `vigil audit verify FILE` prints it: the first
        altered event by its place only (number, run, event id), since what the event is and
        when it happened would be read from the copy in question."""
        return self.model_dump(mode="json", exclude={"first_altered": {"run_id", "type", "at"}})


def verification(history: IncidentHistory, stored: StoredSeal) -> Verification:
    verdict = verify(history.incident_id, history.runs, stored.chain)
    altered = verdict.first_altered  # 0-based
    return Verification(
        incident_id=history.incident_id,
        intact=verdict.intact,
        events=verdict.events,
        sealed_events=stored.events,
        first_altered_event=None if altered is None else altered + 1,
        first_altered=history.event(altered + 1) if altered is not None and altered < history.event_count else None,
        digest=stored.digest,
        search_attribute_matches=None if stored.search_attribute is None else stored.search_attribute == stored.digest,
        detail=verdict.detail,
        counts=count_history(history),
    )
