"""Bugs these tests found in code the reliability harness does not own, reported to their owners.

Each is pinned by a focused test in test_known_bugs.py, marked `xfail(strict=True)`: while the
bug is there it is an expected failure; the day it is fixed that test fails ("XPASS(strict)"),
and whoever fixed it deletes the pin and the allowance below, which is what keeps the broad
scenarios green meanwhile without hiding anything else.

A. POST /api/incidents and POST /api/incidents/{id}/actions answer 500 instead of 503 when no
   worker answers within ACTION_TIMEOUT (vigil/api/routers/incidents.py): `asyncio.wait_for`
   cancels the update call, the SDK turns the cancellation into
   `WorkflowUpdateRPCTimeoutOrCancelledError`, and only `TimeoutError` is caught.
B. A request body that is not UTF-8 (so not JSON) is answered 400 "bad_request", a status the
   OpenAPI document does not list; every other malformed body is 422.
"""

from bench.processes import Process

BUG_A_SIGNATURE = "WorkflowUpdateRPCTimeoutOrCancelledError"
BUG_B_SIGNATURE = "There was an error parsing the body"


def log_sizes(apis: list[Process]) -> dict[str, int]:
    """Where each API's log ends now: what a scenario adds comes after."""
    return {api.name: api.log.stat().st_size for api in apis}


def unexplained_server_errors(errors: list[str], apis: list[Process], since: dict[str, int]) -> list[str]:
    """The driver's 5xx answers, less those that bug A explains (each matched by its traceback in
    an API log, written since the scenario began). What remains is new."""
    explained = 0
    for api in apis:  # each unhandled error is logged once, with its traceback, before the next
        with open(api.log, errors="replace") as log:
            log.seek(since.get(api.name, 0))
            logged = log.read().split("unhandled error on POST /api/incidents")[1:]
        explained += sum(BUG_A_SIGNATURE in entry.split("unhandled error on ")[0] for entry in logged)
    candidates = [e for e in errors if e.startswith("POST /api/incidents") and ": 500 " in e]
    others = [e for e in errors if e not in candidates]
    return others + candidates[explained:]


def is_bug_b(failure: str) -> bool:
    """A schemathesis failure made only of bug B: an undocumented 400 for an unparseable body."""
    return ("found 1 distinct failure" in failure and failure.count("Undocumented status code") == 1
            and "Received: 400" in failure and BUG_B_SIGNATURE in failure)
