"""Triage: the policy decides an incoming incident's severity. Recorded in history with the
policy itself, so the incident keeps the rules it was triaged under."""

from temporalio import activity

from vigil.policy import Policy
from vigil.workflows.messages import TriageResult
from vigil.workflows.state import Intake


class TriageActivities:
    def __init__(self, policy: Policy):
        self._policy = policy

    @activity.defn(name="triage")
    def triage(self, intake: Intake) -> TriageResult:
        severity, reasons = self._policy.triage_severity(intake.category, intake.channel, intake.region, intake.reach)
        return TriageResult(severity=severity, reasons=reasons, policy=self._policy)
