"""A scenario driver: incidents taken down many paths on a real Temporal server.

The audit suite reads what these leave behind (timeline, reconstruction, replay, seals), and
tests/histories/record.py records the same histories for the replay gate. Time runs for real:
the scenario policy shortens the clocks to seconds, so SLA and legal deadlines are breached
by waiting, the reopen window closes incidents (which seals them) and an unanswered approval
asks its next tier.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from tests.helpers import ANA, AUDREY, BEA, LEA, LEO, eventually, intake, new_incident_id, query_state
from vigil.activities.enforcement import EnforcementRefused, RecordingAdapter
from vigil.domain import EnforcementAction, Resolution, Severity, Team
from vigil.policy import Policy
from vigil.temporal import signer_of
from vigil.temporal.incident_client import ActionRefused, act, open_incident, send_action
from vigil.temporal.signing import sign_request
from vigil.workflows.actions import (
    Acknowledge,
    AddNote,
    Approve,
    Assign,
    Escalate,
    MergeInto,
    ProposeAction,
    RecordTeamResponse,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.approval import ApprovalWorkflow
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.messages import IncidentStart
from vigil.workflows.state import Actor, Incident

SEV1_LATAM = {"channel": "law_enforcement", "category": "violent_extremism", "region": "LATAM"}
TCO_ORDER = {"channel": "regulator", "category": "violent_extremism", "region": "EMEA"}  # + EU 1-hour clock
CSAM = {"channel": "trusted_flagger", "category": "child_safety", "region": "NA"}  # + NCMEC clock
SEV2_PRESS = {"channel": "press", "category": "misinformation", "region": "APAC", "reach": 10}
SEV3 = {"channel": "user_report", "category": "hate_speech", "region": "NA", "reach": 10}
SEV4 = {"channel": "user_report", "category": "spam_scam", "region": "APAC", "reach": 10}

GONE = "acct:deleted-before-enforcement"  # the platform refuses to act on it
REOPEN_WINDOW = timedelta(seconds=4)
WAIT = 45.0  # seconds a scenario waits for a clock or a close, at most


def scenario_policy(base: Policy) -> Policy:
    """The default policy with clocks in seconds; a small history limit, so long incidents continue-as-new."""
    fast = {
        severity: clocks.model_copy(
            update={
                "acknowledge": timedelta(seconds=2),
                "first_response": timedelta(seconds=2),
                "resolve": timedelta(hours=1),
                "reminder": timedelta(hours=1),
            }
        )
        for severity, clocks in base.sla.items()
    }
    regulatory = [
        rule.model_copy(update={"due": timedelta(seconds=3)}) if rule.id == "eu_tco_removal_order" else rule
        for rule in base.regulatory
    ]
    return base.model_copy(
        update={
            "version": "audit-scenarios-1",
            "sla": fast,
            "regulatory": regulatory,
            "approval": base.approval.model_copy(update={"timeout": timedelta(seconds=3)}),
            "reopen": base.reopen.model_copy(update={"window": REOPEN_WINDOW}),
            "history_events_limit": 100,
        }
    )


class PlatformAdapter(RecordingAdapter):
    """The recording adapter, except that an account already gone cannot be acted on."""

    def execute(self, request):
        if request.proposal.target == GONE:
            raise EnforcementRefused(f"{GONE} no longer exists")
        return super().execute(request)


class Driver:
    def __init__(self, client: Client, task_queue: str):
        self.client = client
        self.task_queue = task_queue

    async def open(self, **changes: Any) -> str:
        incident_id = new_incident_id()
        await open_incident(self.client, incident_id, intake(**changes), task_queue=self.task_queue)
        return incident_id

    async def act(self, incident_id: str, action: Any, actor: Actor) -> Incident:
        return await act(self.client, incident_id, action, actor)

    async def try_act(self, incident_id: str, action: Any, actor: Actor) -> Incident | None:
        try:
            return await self.act(incident_id, action, actor)
        except ActionRefused:
            return None

    async def signal(self, incident_id: str, action: Any, actor: Actor) -> None:
        await send_action(self.client, incident_id, action, actor)

    async def raw_signal(self, incident_id: str, raw: dict[str, Any]) -> None:
        await self.client.get_workflow_handle(incident_id).signal(IncidentWorkflow.act_signal, raw)

    async def state(self, incident_id: str) -> Incident:
        return await query_state(self.client, incident_id)

    async def until(self, incident_id: str, check: Callable[[Incident], bool]) -> Incident:
        async def ready() -> Incident | None:
            state = await self.state(incident_id)
            return state if check(state) else None

        return await eventually(ready, timeout=WAIT, interval=0.2)

    async def until_status(self, incident_id: str, *statuses: str) -> Incident:
        return await self.until(incident_id, lambda s: s.status in statuses)

    async def until_breached(self, incident_id: str, clock_id: str) -> Incident:
        return await self.until(incident_id, lambda s: bool(s.clock(clock_id) and s.clock(clock_id).breaches))


def _proposal(state: Incident) -> str:
    return state.proposals[-1].id


# ---------------------------------------------------------------------------- the paths


async def approved_by_two_leads(d: Driver) -> list[str]:
    """SEV1: escalation answered, termination approved by two leads, enforced, resolved, closed."""
    iid = await d.open(**SEV1_LATAM)
    await d.act(iid, Acknowledge(), ANA)
    await d.act(iid, Assign(assignee="bea"), ANA)
    await d.act(iid, Escalate(team="legal", reason="Police request the account data"), BEA)
    await d.act(iid, RecordTeamResponse(team="legal", text="Disclose under the emergency exception."), BEA)
    state = await d.act(iid, ProposeAction(action="terminate_account", rationale="Credible threat to a school."), BEA)
    await d.act(iid, Approve(approval_id=_proposal(state), comment="Agreed."), LEA)
    await d.act(iid, Approve(approval_id=_proposal(state), comment="Aprobado."), LEO)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    await d.act(iid, Resolve(resolution="actioned", summary="Account terminated; data disclosed to police."), BEA)
    await d.until_status(iid, "closed")
    return [iid]


async def rejected(d: Driver) -> list[str]:
    iid = await d.open(**SEV3)
    await d.act(iid, Acknowledge(), ANA)
    state = await d.act(iid, ProposeAction(action="terminate_account", rationale="Third strike."), ANA)
    await d.act(iid, Reject(approval_id=_proposal(state), reason="Only two strikes: suspend instead."), LEO)
    await d.act(iid, Resolve(resolution="no_violation", summary="Satire, allowed."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def sla_breached(d: Driver) -> list[str]:
    """Nobody acknowledges in time; a team does not answer in time; both clocks breach."""
    iid = await d.open(**SEV3)
    await d.until_breached(iid, "sla.acknowledge")
    await d.act(iid, Acknowledge(), BEA)
    await d.act(iid, Escalate(team="product", reason="Is the share button spreading it?"), BEA)
    await d.until_breached(iid, "sla.first_response.product")
    await d.act(iid, RecordTeamResponse(team="product", text="Yes; throttled."), BEA)
    await d.act(iid, Resolve(resolution="referred", summary="Product owns the fix."), BEA)
    await d.until_status(iid, "closed")
    return [iid]


async def legal_deadline_missed(d: Driver) -> list[str]:
    """An EU removal order acted on after its 1-hour deadline (3 s here)."""
    iid = await d.open(**TCO_ORDER)
    await d.act(iid, Acknowledge(), ANA)
    await d.until_breached(iid, "regulatory.eu_tco_removal_order")
    state = await d.act(
        iid,
        ProposeAction(
            action="remove_content",
            rationale="Named in the removal order.",
            statement_of_reasons="Removed under Regulation (EU) 2021/784 art. 3 removal order TCO-2026-0042.",
        ),
        ANA,
    )
    await d.act(iid, Approve(approval_id=_proposal(state)), LEA)
    await d.act(iid, Approve(approval_id=_proposal(state)), LEO)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    await d.act(iid, Resolve(resolution="actioned", summary="Removed, late."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def signals_refused(d: Driver) -> list[str]:
    """Fire-and-forget actions: refused ones are recorded as refused, never applied."""
    iid = await d.open(**SEV3)
    await d.signal(iid, Escalate(team="legal", reason="before acknowledging"), ANA)
    await d.raw_signal(
        iid, {"action": {"type": "escalate", "team": "the_moon"}, "actor": {"user": "ana", "role": "analyst"}}
    )
    await d.signal(iid, Acknowledge(), AUDREY)
    await d.signal(iid, Acknowledge(), ANA)
    await d.signal(iid, AddNote(text="Seen by the night shift."), BEA)
    await d.until(iid, lambda s: len(s.notes) == 1)
    state = await d.act(iid, ProposeAction(action="geo_block", rationale="Illegal in one country only."), LEA)
    await d.signal(iid, Approve(approval_id=_proposal(state), comment="mine"), LEA)  # four-eyes
    await d.signal(iid, Reject(approval_id=_proposal(state), reason="Needs Legal first."), LEO)
    await d.until_status(iid, "investigating")
    return [iid]


async def reopened(d: Driver) -> list[str]:
    iid = await d.open(**SEV4)
    await d.act(iid, Acknowledge(), ANA)
    await d.act(iid, Resolve(resolution="no_violation", summary="Not spam."), ANA)
    await d.act(iid, Reopen(reason="The same account posted it again."), BEA)
    await d.act(iid, AddNote(text="Second wave from the same account."), BEA)
    await d.act(iid, Resolve(resolution="insufficient_information", summary="Cannot tell."), BEA)
    await d.until_status(iid, "closed")
    return [iid]


async def merged(d: Driver) -> list[str]:
    original = await d.open(**SEV3)
    duplicate = await d.open(**SEV3)
    await d.act(original, Acknowledge(), ANA)
    await d.act(duplicate, MergeInto(incident_id=original), ANA)
    await d.until(original, lambda s: any("merged into this incident" in n.text for n in s.notes))
    await d.until_status(duplicate, "merged")
    return [original, duplicate]


async def continued_as_new(d: Driver) -> list[str]:
    """A long incident: its history passes the policy's limit and continues in new runs."""
    iid = await d.open(**SEV4)
    await d.act(iid, Acknowledge(), ANA)
    for n in range(24):
        await d.act(iid, AddNote(text=f"Update {n} from the investigation."), ANA)
        await d.act(iid, Assign(assignee="bea" if n % 2 == 0 else "ana"), LEA)
        if n % 8 == 7:  # a quiet moment: the workflow continues as new when its history is long
            await asyncio.sleep(0.5)
    await d.act(iid, Resolve(resolution="duplicate", summary="Same as an older report."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def severity_raised(d: Driver) -> list[str]:
    """A lead raises the severity: the pending approval expires; the new proposal needs approval."""
    iid = await d.open(**SEV3)
    await d.act(iid, Acknowledge(), ANA)
    await d.act(iid, ProposeAction(action="terminate_account", rationale="Coordinated harassment."), ANA)
    await d.act(iid, SetSeverity(severity="SEV2", reason="A minor is the target."), LEA)
    state = await d.act(iid, ProposeAction(action="remove_content", rationale="Remove the posts first."), ANA)
    await d.act(iid, Approve(approval_id=_proposal(state), comment="Yes."), LEO)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    await d.act(iid, Resolve(resolution="actioned", summary="Posts removed."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def severity_lowered(d: Driver) -> list[str]:
    """A lead lowers a SEV1 to SEV4, a suspension is proposed: it still needs SEV1's two leads."""
    iid = await d.open(**SEV1_LATAM)
    await d.act(iid, Acknowledge(), ANA)
    await d.act(iid, SetSeverity(severity="SEV4", reason="Looks like a prank."), LEA)
    state = await d.act(iid, ProposeAction(action="suspend_account", rationale="Prank or not, it breaks rules."), ANA)
    state = await d.act(iid, Approve(approval_id=_proposal(state), comment="Agreed."), LEA)
    assert state.status == "pending_approval"  # one lead of two
    await d.act(iid, Approve(approval_id=_proposal(state), comment="Sí."), LEO)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    await d.act(iid, Resolve(resolution="actioned", summary="Account suspended."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def enforcement_refused(d: Driver) -> list[str]:
    iid = await d.open(**SEV3)
    await d.act(iid, Acknowledge(), ANA)
    await d.act(iid, ProposeAction(action="suspend_account", rationale="Repeat offender.", target=GONE), ANA)
    await d.until(iid, lambda s: s.proposals[-1].status == "failed")
    await d.act(iid, Resolve(resolution="no_violation", summary="The account is gone."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def approval_asks_next_tier(d: Driver) -> list[str]:
    iid = await d.open(**SEV3)
    await d.act(iid, Acknowledge(), ANA)
    state = await d.act(iid, ProposeAction(action="terminate_account", rationale="Ban evasion."), ANA)
    approval = d.client.get_workflow_handle_for(ApprovalWorkflow.run, _proposal(state))

    async def second_round() -> bool:
        try:
            return (await approval.query(ApprovalWorkflow.asked))["round"] >= 2
        except RPCError:  # the request is still starting
            return False

    await eventually(second_round, timeout=WAIT, interval=0.3)
    await d.act(iid, Approve(approval_id=_proposal(state), comment="Sorry for the wait."), LEO)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    return [iid]


async def signal_before_triage(d: Driver) -> list[str]:
    """An action that arrives before triage finishes waits for it, then applies."""
    iid = new_incident_id()
    early = sign_request(signer_of(d.client), iid, Acknowledge(), ANA).model_dump(mode="json")
    await d.client.start_workflow(
        IncidentWorkflow.run,
        IncidentStart(incident_id=iid, intake=intake(**SEV3)),
        id=iid,
        task_queue=d.task_queue,
        start_signal="act_signal",
        start_signal_args=[early],
    )
    await eventually(lambda: _state_or_none(d, iid), timeout=WAIT)
    await d.until_status(iid, "investigating")
    return [iid]


async def no_approval_needed(d: Driver) -> list[str]:
    iid = await d.open(**SEV4)
    await d.act(iid, Acknowledge(), ANA)
    await d.act(iid, ProposeAction(action="remove_content", rationale="Obvious spam."), ANA)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    await d.act(iid, Resolve(resolution="actioned", summary="Removed."), ANA)
    await d.until_status(iid, "closed")
    return [iid]


async def ncmec_report(d: Driver) -> list[str]:
    iid = await d.open(**CSAM)
    await d.act(iid, Acknowledge(), ANA)
    state = await d.act(iid, ProposeAction(action="regulator_report", rationale="Mandatory NCMEC report."), ANA)
    await d.act(iid, Approve(approval_id=_proposal(state)), LEA)
    await d.act(iid, Approve(approval_id=_proposal(state)), LEO)
    await d.until(iid, lambda s: s.proposals[-1].status == "done")
    await d.act(iid, Resolve(resolution="actioned", summary="Reported; evidence preserved."), ANA)
    return [iid]


async def left_in_triage(d: Driver) -> list[str]:
    iid = await d.open(**SEV2_PRESS)
    await d.until_breached(iid, "sla.acknowledge")
    return [iid]


async def random_walks(d: Driver, walks: int = 6, steps: int = 12, seed: int = 20261125) -> list[str]:
    """Random actions by random people, by update or by signal: refusals included."""
    rng = random.Random(seed)
    profiles = [SEV1_LATAM, SEV3, SEV4, SEV2_PRESS, CSAM, SEV3]

    async def walk(number: int, profile: dict[str, Any]) -> str:
        iid = await d.open(**profile)
        local = random.Random(rng.random())
        for _ in range(steps):
            state = await d.state(iid)
            if state.status == "closed":  # resolved a few steps back, and a slow machine let the window pass
                break
            action = _random_action(local, state)
            actor = local.choice([ANA, BEA, LEA, LEO])
            if local.random() < 0.3:
                try:
                    await d.signal(iid, action, actor)
                except RPCError as error:  # it closed between the look and the signal
                    if "already completed" not in str(error):
                        raise
                    break
            else:
                await d.try_act(iid, action, actor)
        state = await d.state(iid)
        if state.status in ("triage", "actioning"):
            await d.until_status(iid, "triage", "investigating", "escalated", "pending_approval")
            state = await d.state(iid)
        if state.status == "triage":
            await d.act(iid, Acknowledge(), ANA)
        await d.try_act(iid, Resolve(resolution="insufficient_information", summary=f"Walk {number} ends."), ANA)
        await d.until_status(iid, "closed")  # the reopen window passes: quiet from here on
        return iid

    return list(await asyncio.gather(*(walk(n, p) for n, p in enumerate(profiles[:walks], start=1))))


def _random_action(rng: random.Random, state: Incident) -> Any:
    approval = state.proposals[-1].id if state.proposals else f"{state.id}-A9"
    menu = [
        lambda: Acknowledge(),
        lambda: Assign(assignee=rng.choice(["ana", "bea", "leo"])),
        lambda: AddNote(text=rng.choice(["Checked the account.", "Asked for context.", "Nothing new."])),
        lambda: SetSeverity(severity=rng.choice(list(Severity)), reason="Reassessed."),
        lambda: Escalate(team=rng.choice([t for t in Team if not t.startswith("incident_")]), reason="Needs a view."),
        lambda: RecordTeamResponse(team=rng.choice(["legal", "product", "public_policy"]), text="Our view."),
        lambda: ProposeAction(
            action=rng.choice(list(EnforcementAction)),
            rationale="Seems right.",
            statement_of_reasons="Statement of reasons for the user.",
        ),
        lambda: Approve(approval_id=approval),
        lambda: Reject(approval_id=approval, reason="Not yet."),
        lambda: Resolve(resolution=rng.choice(list(Resolution)), summary="Done for now."),
        lambda: Reopen(reason="More came in."),
    ]
    return rng.choice(menu)()


async def _state_or_none(d: Driver, incident_id: str) -> Incident | None:
    try:
        return await d.state(incident_id)
    except Exception:
        return None


SCENARIOS: dict[str, Callable[[Driver], Awaitable[list[str]]]] = {
    "approved-by-two-leads": approved_by_two_leads,
    "rejected": rejected,
    "sla-breached": sla_breached,
    "legal-deadline-missed": legal_deadline_missed,
    "signals-refused": signals_refused,
    "reopened": reopened,
    "merged": merged,
    "continued-as-new": continued_as_new,
    "severity-raised": severity_raised,
    "severity-lowered": severity_lowered,
    "enforcement-refused": enforcement_refused,
    "approval-asks-next-tier": approval_asks_next_tier,
    "signal-before-triage": signal_before_triage,
    "no-approval-needed": no_approval_needed,
    "ncmec-report": ncmec_report,
    "left-in-triage": left_in_triage,
    "random-walks": random_walks,
}


async def run_scenarios(driver: Driver, names: list[str] | None = None) -> dict[str, list[str]]:
    """Runs the scenarios side by side; returns the incident ids each produced."""
    chosen = names or list(SCENARIOS)
    results = await asyncio.gather(*(SCENARIOS[name](driver) for name in chosen))
    return dict(zip(chosen, results, strict=True))
