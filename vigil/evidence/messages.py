"""What EvidencePurgeWorkflow and its activity say to each other (pure: the sandbox imports it)."""

from datetime import datetime

from pydantic import BaseModel


class PurgeRequest(BaseModel):
    evidence_id: str
    now: datetime  # the workflow's clock: the durable timer decides when, not the activity's wall clock


class PurgeStep(BaseModel):
    done: bool  # purged now, or already gone
    wait_until: datetime | None = None  # still preserved until then (None: on legal hold)
    outcome: str  # in words, for the workflow's result
