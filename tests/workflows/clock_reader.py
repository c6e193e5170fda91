"""A workflow that reads the machine's clock, which no workflow may: the sandbox must refuse it
(tests/workflows/test_sandbox.py). Its own module, so the sandbox imports it afresh as it does
Vigil's workflow modules."""

from datetime import datetime

from temporalio import workflow


@workflow.defn(sandboxed=True)
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()
