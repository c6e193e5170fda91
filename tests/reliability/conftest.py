"""Vigil as deployed, in processes we can kill: a Temporal dev server run as `vigil up` runs it
(SQLite file, WAL), and `vigil worker` / `vigil api` subprocesses with TEMPORAL_ADDRESS,
DATABASE_URL, VIGIL_HOME and VIGIL_ENCRYPTION_KEYS, driven over HTTP on 127.0.0.1 only.

One dev server for the session; each deployment has a Temporal namespace of its own (incident
ids restart at INC-YYYY-000001 in every database). The policy is the default one with a 3-second
reopen window, so a resolved incident closes (and its history is sealed) within the test, and a
4-second acknowledge SLA for SEV4, for racing an action against a timer.
"""

import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.processes import Api, Deployment, Process, TemporalDevServer
from bench.workload import PEOPLE
from vigil.policy import DEFAULT_POLICY_PATH

NAMESPACES = ("vigil-chaos", "vigil-pg", "vigil-fuzz", "vigil-notices")
REOPEN_WINDOW = 3  # seconds
SEV4_ACK_SLA = 4  # seconds


def reliability_policy(directory: Path) -> Path:
    text = DEFAULT_POLICY_PATH.read_text()
    text = text.replace('version = "', 'version = "reliability-', 1)
    text = re.sub(r'(\[reopen\]\nwindow = )"[^"]+"', rf'\1"{REOPEN_WINDOW}s"', text)
    text = re.sub(r'(\[sla\.SEV4\]\nacknowledge = )"[^"]+"', rf'\1"{SEV4_ACK_SLA}s"', text)
    assert f'window = "{REOPEN_WINDOW}s"' in text and f'acknowledge = "{SEV4_ACK_SLA}s"' in text
    path = directory / "policy.toml"
    path.write_text(text)
    return path


@dataclass
class System:
    """One deployment's processes and what a client needs to talk to it."""

    deployment: Deployment
    tokens: dict[str, str]
    workers: list[Process] = field(default_factory=list)
    apis: list[Api] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [api.url for api in self.apis]

    def heal(self) -> None:
        """Back to one running worker and one API, whatever a test did to them."""
        for worker in self.workers[1:]:
            worker.stop(timeout=15)
            self.deployment.processes.remove(worker)
        del self.workers[1:]
        if not self.workers[0].alive:
            self.deployment.restart(self.workers[0])
        for api in self.apis[1:]:
            api.stop(timeout=15)
            self.deployment.processes.remove(api)
        del self.apis[1:]


@pytest.fixture(scope="session")
def reliability_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Removed afterwards, unless a test failed: then the processes' logs are kept for the post-mortem."""
    directory = Path(tempfile.mkdtemp(prefix="vigil-reliability-"))
    yield directory
    if request.session.testsfailed:
        print(f"\nreliability logs kept in {directory}/*/logs")
    else:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def temporal_server(reliability_dir: Path) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(reliability_dir / "temporal", namespaces=NAMESPACES)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def policy_file(reliability_dir: Path) -> Path:
    return reliability_policy(reliability_dir)


def start_system(deployment: Deployment) -> System:
    # Where `vigil` looks for keys when the environment names none: a post-mortem can read the histories.
    deployment.home.mkdir(parents=True, exist_ok=True)
    (deployment.home / "encryption.keys").write_text(deployment.encryption_keys + "\n")
    deployment.migrate()
    tokens = deployment.add_people(PEOPLE)
    return System(deployment, tokens, workers=[deployment.worker("worker-1")], apis=[deployment.api(name="api-1")])


@pytest.fixture(scope="session")
def chaos_system(temporal_server: TemporalDevServer, reliability_dir: Path, policy_file: Path) -> Iterator[System]:
    """SQLite, one worker, one API: the deployment the crash, restart and scale-out tests abuse."""
    home = reliability_dir / "chaos"
    deployment = Deployment(
        home=home,
        temporal_address=temporal_server.address,
        namespace="vigil-chaos",
        database_url=f"sqlite:///{home / 'vigil.db'}",
        policy=policy_file,
    )
    system = start_system(deployment)
    yield system
    deployment.stop_all()


@pytest.fixture
def system(chaos_system: System, temporal_server: TemporalDevServer) -> Iterator[System]:
    """The chaos deployment, healed after each test (server up, one worker, one API)."""
    yield chaos_system
    if not temporal_server.alive:
        temporal_server.start()
    chaos_system.heal()
