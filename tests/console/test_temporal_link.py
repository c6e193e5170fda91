"""Each incident links to its workflow in the Temporal Web UI (VIGIL_TEMPORAL_UI_URL), for auditors and admins."""

import pytest

from tests.console.conftest import Console
from vigil.config import settings


@pytest.fixture
def temporal_ui(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIGIL_TEMPORAL_UI_URL", "http://temporal-ui.example:8233/")
    settings.cache_clear()
    yield
    monkeypatch.delenv("VIGIL_TEMPORAL_UI_URL")
    settings.cache_clear()


async def test_auditors_get_a_link_to_the_run_and_analysts_do_not(console: Console, temporal_ui: None) -> None:
    incident = await console.open()
    iid = incident["id"]
    namespace = settings().temporal_namespace
    link = f'href="http://temporal-ui.example:8233/namespaces/{namespace}/workflows/{iid}"'
    assert link in (await (await console.signed_in("audrey")).get(f"/incidents/{iid}")).text
    assert "Temporal Web UI" not in (await (await console.signed_in("ana")).get(f"/incidents/{iid}")).text
