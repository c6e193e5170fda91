"""schemathesis against the OpenAPI document of a running `vigil api`, authenticated with real
tokens (a lead for incidents and approvals, an admin for users), with a real worker behind it:
valid and invalid requests alike, no 5xx, and every response matches the schema (its status is
documented, its content type and body are the documented ones).

A deployment of its own: fuzzing creates users and incidents nobody else should see."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import schemathesis.generation.jsonschema.builder
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from bench.processes import Deployment, TemporalDevServer
from tests.reliability.conftest import System, start_system

# schemathesis imports its generation modules lazily, deep inside hypothesis' call stack, where
# pytest's assertion rewriting parses them; on CPython 3.11 that `ast.parse` can fail with
# "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905). Imported above, at
# the top of the stack, they are parsed once, safely.

EXAMPLES = 40  # per operation: enough to find shape errors, bounded for CI
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_system(temporal_server: TemporalDevServer, reliability_dir: Path, policy_file: Path) -> Iterator[System]:
    home = reliability_dir / "fuzz"
    deployment = Deployment(
        home=home,
        temporal_address=temporal_server.address,
        namespace="vigil-fuzz",
        database_url=f"sqlite:///{home / 'vigil.db'}",
        policy=policy_file,
    )
    system = start_system(deployment)
    yield system
    deployment.stop_all()


def test_api_answers_every_request_within_its_schema(fuzz_system: System) -> None:
    # Loaded here rather than by schemathesis' pytest plugin, whose lazy fixture loader does not
    # run on pytest 9 (it reads the removed `Function._nodeid`).
    # /api/events is a stream that stays open by design: each case would wait out its timeout.
    # Its odd inputs (a bad Last-Event-ID, ?after=) are tested in tests/console/test_events.py.
    schema = (
        schemathesis.openapi.from_url(f"{fuzz_system.urls[0]}/openapi.json")
        .include(path_regex="^/api/")
        .exclude(path="/api/events")
    )
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        user = "adam" if operation.path.startswith("/api/users") else "leo"
        headers = {"Authorization": f"Bearer {fuzz_system.tokens[user]}"}

        # Valid requests and invalid ones (wrong types, missing fields...): 4xx at worst, never 5xx.
        cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=cases)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)  # noqa: B023

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as failure:
            failures[f"{operation.method.upper()} {operation.path}"] = str(failure)[:2000]
    print(f"{operations} operations fuzzed")
    assert operations >= 10, f"only {operations} operations in the OpenAPI document"
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
