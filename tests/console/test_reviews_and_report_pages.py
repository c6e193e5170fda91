"""The post-incident review and the weekly report in the console, in both languages."""

from datetime import UTC, datetime, timedelta

from tests.console.conftest import Console
from tests.helpers import eventually


async def _resolved_sev1(console: Console, title: str) -> str:
    incident = await console.open(title=title)
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    await console.act(iid, {"type": "resolve", "resolution": "no_violation", "summary": "A hoax."}, "ana")
    return iid


async def test_the_review_page_edits_sections_and_follow_ups_show_in_the_owners_queue(console: Console) -> None:
    iid = await _resolved_sev1(console, "Console review")
    ana = await console.signed_in("ana")
    page = f"/incidents/{iid}/review"

    async def opened() -> bool:
        text = (await ana.get(page)).text
        return "Key moments" in text and "Save" in text and "Pick them again" in text

    assert await eventually(opened, timeout=30)
    assert f'href="/incidents/{iid}/review"' in (await ana.get(f"/incidents/{iid}")).text
    saved = await console.post_form(
        ana, page, page, {"type": "review_edit", "section": "summary", "text": "Hoax, <b>fast</b>."}
    )
    assert (saved.status_code, saved.headers["location"]) == (303, page)
    shown = (await ana.get(saved.headers["location"])).text
    assert "Saved." not in (await ana.get(page)).text  # said once: a reload does not say it again
    assert "Saved." in shown and "Hoax, &lt;b&gt;fast&lt;/b&gt;." in shown
    added = await console.post_form(
        ana,
        page,
        page,
        {
            "type": "review_add_follow_up",
            "text": "Brief the hotline.",
            "owner": "bea",
            "due": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
        },
    )
    assert added.status_code == 303
    bea = await console.signed_in("bea")
    assert await eventually(lambda: _contains(bea, "/", "Brief the hotline."))
    refused = await console.post_form(ana, page, page, {"type": "review_complete"})
    assert refused.status_code == 422 and "contributing factors" in refused.text

    bruno = await console.signed_in("bea")
    await bruno.get("/language/es", params={"next": page})
    spanish = (await bruno.get(page)).text
    assert "Revisión posterior al incidente" in spanish and "Momentos clave" in spanish
    markdown = await ana.get(f"/incidents/{iid}/review.md")
    assert markdown.status_code == 200 and "Hoax, <b>fast</b>." in markdown.text
    pdf = await ana.get(f"/incidents/{iid}/review.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    auditor = await console.signed_in("audrey")
    read_only = (await auditor.get(page)).text
    assert "Hoax, &lt;b&gt;fast&lt;/b&gt;." in read_only and 'name="type" value="review_edit"' not in read_only


async def _contains(client, path: str, text: str) -> bool:
    return text in (await client.get(path)).text


async def test_the_weekly_report_page_and_its_pdf(console: Console) -> None:
    leo = await console.signed_in("leo")
    page = await leo.get("/reports/weekly", params={"week": "2026-W48"})
    assert page.status_code == 200 and "Weekly report, 2026-W48" in page.text and "The week in numbers" in page.text
    await leo.get("/language/es", params={"next": "/reports/weekly"})
    spanish = await leo.get("/reports/weekly", params={"week": "2026-W48"})
    assert "La semana en cifras" in spanish.text
    pdf = await leo.get("/reports/weekly.pdf", params={"week": "2026-W48"})
    assert pdf.content.startswith(b"%PDF")
    bad = await leo.get("/reports/weekly", params={"week": "2026-W99"})
    assert bad.status_code == 422 and "99" in bad.text
