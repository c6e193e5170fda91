"""A scratch copy of IncidentWorkflow with two commands in the other order, to prove the replay
gate catches such a change: it upserts the incident's search attributes before scheduling the
triage activity, where the real workflow schedules triage first and upserts once it is back.

Registered under the name IncidentWorkflow, as a careless edit of the real one would be."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vigil.temporal import CATEGORY, CHANNEL, REGION
    from vigil.workflows.incident import IncidentWorkflow
    from vigil.workflows.messages import IncidentStart
    from vigil.workflows.state import Incident


@workflow.defn(name="IncidentWorkflow")
class SearchAttributesBeforeTriage(IncidentWorkflow):
    @workflow.run
    async def run(self, start: IncidentStart) -> Incident:
        return await super().run(start)

    async def _triage(self, start: IncidentStart) -> None:
        intake = start.intake
        workflow.upsert_search_attributes(
            [
                CATEGORY.value_set(intake.category.value),
                REGION.value_set(intake.region.value),
                CHANNEL.value_set(intake.channel.value),
            ]
        )
        await super()._triage(start)
