"""EvidencePurgeWorkflow's one side effect: purge an item whose preservation has ended (idempotent:
an item already gone is reported as such), or say until when it must still be kept."""

from temporalio import activity

from vigil.evidence.messages import PurgeRequest, PurgeStep
from vigil.evidence.vault import Vault


class EvidenceActivities:
    def __init__(self, vault: Vault):
        self.vault = vault

    @activity.defn
    def purge_evidence(self, request: PurgeRequest) -> PurgeStep:
        return self.vault.purge_if_due(request.evidence_id, request.now)
