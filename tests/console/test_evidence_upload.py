"""Adding evidence from the incident page: the file lands in the vault; when the store cannot take
it, the person gets a page saying so (503, in words), not an error document, and nothing is kept."""

from pathlib import Path

from tests.console.conftest import Console, hidden_value
from tests.evidence_files import png
from vigil.config import settings
from vigil.evidence.store import FileStore, SealedStore
from vigil.evidence.vault import Vault
from vigil.temporal.codec import load_or_create_keys

CHILD_SAFETY = {"category": "child_safety", "channel": "user_report", "region": "NA"}


async def _upload(console: Console, user: str, incident_id: str, data: bytes) -> tuple[int, str]:
    client = await console.signed_in(user)
    html = (await client.get(f"/incidents/{incident_id}")).text
    response = await client.post(
        f"/incidents/{incident_id}/evidence",
        data={"csrf": hidden_value(html, "csrf"), "description": "screenshot"},
        files={"file": ("shot.png", data, "image/png")},
    )
    return response.status_code, response.text


async def test_evidence_added_from_the_page_and_a_store_that_cannot_take_it(console: Console, tmp_path: Path) -> None:
    incident = await console.open(title="Upload from the page", **CHILD_SAFETY)
    status, _page = await _upload(console, "ana", incident["id"], png(41))
    assert status == 303, _page  # post/redirect/get back to the evidence
    vault: Vault = console.app.state.vault
    assert len(vault.items(incident["id"])) == 1

    blocked = tmp_path / "evidence"
    blocked.write_text("a file where the evidence directory should be")
    ring = load_or_create_keys(settings().encryption_keys_env, settings().keys_file)
    console.app.state.vault = Vault(console.engine, SealedStore(FileStore(blocked), ring), vault.max_bytes)
    try:
        status, page = await _upload(console, "ana", incident["id"], png(42))
    finally:
        console.app.state.vault = vault
    assert status == 503 and "the evidence store is unreachable; nothing was changed" in page
    assert "<html" in page.lower()  # the console's page, not the API's JSON
    assert len(vault.items(incident["id"])) == 1
