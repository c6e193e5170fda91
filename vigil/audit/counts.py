"""How much history an audit report covers, counted one way for every report.

The timeline, the state after an event, the replay report and the seal check (in the API and
in `vigil audit`) all say how many runs and events they read, with `count_history`, so that
for one incident they give the same numbers:

- `runs`: the runs of the incident's own workflow (IncidentWorkflow), oldest first: 1, and one
  more for each continue-as-new.
- `events`: the events of those runs, numbered across them (see vigil.audit.history): "event
  N" in any report is one of 1..events. It is the whole history, not only the part sealed at
  close (a verdict says how many of these the seal covers).
- `approval_requests`: the approval requests (ApprovalWorkflow children) the incident started,
  as its own history records them. Their events are numbered within each request and are not
  among `events`; a replay also replays their runs (its `workflows`).
"""

from pydantic import BaseModel, Field

from vigil.audit.history import IncidentHistory, approval_ids


class HistoryCounts(BaseModel):
    runs: int = Field(description="Runs of the incident's own workflow: 1, one more per continue-as-new")
    events: int = Field(description="Events in those runs, numbered across them: event N is one of 1..events")
    approval_requests: int = Field(
        description="Approval requests the incident started; their events are counted in their own histories"
    )


def count_history(history: IncidentHistory) -> HistoryCounts:
    return HistoryCounts(
        runs=len(history.runs),
        events=history.event_count,
        approval_requests=len(approval_ids(history.runs)),
    )
