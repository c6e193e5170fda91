"""An attacker with the `temporal` CLI and the server's address, but no Vigil key: the forgery
tests (tests/workflows/test_forged_actors.py, tests/api/test_forged_actors.py) send through it."""

import asyncio
import base64
import json
import uuid
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.conftest import _binary

GHOST = {"user": "ghost", "role": "lead"}


class Attacker:
    """Someone with the `temporal` CLI and the server's address, but no Vigil key."""

    def __init__(self, env: WorkflowEnvironment, client: Client, incident_id: str):
        self.address = env.client.service_client.config.target_host
        self.client = client
        self.incident_id = incident_id
        self.attempts = 0

    async def _cli(self, *args: str) -> tuple[int, str]:
        # A subprocess the event loop does not wait on: the worker runs in this loop.
        process = await asyncio.create_subprocess_exec(
            _binary("temporal"),
            "workflow",
            *args,
            "--workflow-id",
            self.incident_id,
            "--address",
            self.address,
            "--namespace",
            self.client.namespace,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return process.returncode, output.decode()

    async def _send(self, how: str, inputs: list[str]) -> tuple[int, str]:
        self.attempts += 1
        if how == "signal":
            return await self._cli("signal", "--name", "act_signal", *inputs)
        return await self._cli("update", "execute", "--name", "act", "--update-id", str(uuid.uuid4()), *inputs)

    async def plaintext(self, how: str, body: Any) -> tuple[int, str]:
        return await self._send(how, ["--input", json.dumps(body)])

    async def encrypted(self, how: str, body: Any) -> tuple[int, str]:
        """Encrypted with Vigil's codec (as through the codec endpoint), so only the signature is missing."""
        (payload,) = await self.client.data_converter.encode([body])
        return await self.payload(how, payload)

    async def payload(self, how: str, payload: Payload) -> tuple[int, str]:
        meta = [f"--input-meta={key}={value.decode()}" for key, value in payload.metadata.items()]
        return await self._send(how, [*meta, "--input-base64", "--input", base64.b64encode(payload.data).decode()])
