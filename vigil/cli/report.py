"""`vigil report weekly`: the weekly leadership report, on demand, through the API.

    vigil report weekly [--week 2026-W48] [--out FILE.pdf|FILE.html] [--language es]

Without --out it prints what changed and the recommendations; with it, it saves the PDF (a
name ending in .pdf) or the HTML. Like the other commands it calls the API ($VIGIL_API) with
your token ($VIGIL_TOKEN).
"""

from pathlib import Path
from typing import Annotated

import httpx
import typer

from vigil.cli.http import DEFAULT_API, ApiOption, TokenOption, api_error_message, console, fail, headers

report_app = typer.Typer(help="Reports for leadership.", no_args_is_help=True)


@report_app.command("weekly")
def weekly(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W48 (default: last week)")] = None,
    out: Annotated[Path | None, typer.Option(help="Save as PDF (.pdf) or HTML (any other name)")] = None,
    language: Annotated[str | None, typer.Option(help="en or es (default: yours)")] = None,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """The week against the weeks before it, what changed, recommendations, reviews, follow-ups."""
    wants = "application/pdf" if out and out.suffix.lower() == ".pdf" else "text/html" if out else "application/json"
    params = {k: v for k, v in {"week": week, "lang": language}.items() if v}
    try:
        response = httpx.get(
            api_url.rstrip("/") + "/api/reports/weekly",
            params=params,
            headers={**headers(token), "Accept": wants},
            timeout=120,
        )
    except httpx.HTTPError as error:
        raise fail(f"cannot reach the API at {api_url}: {error}") from None
    if response.status_code >= 400:
        raise fail(api_error_message(response))
    if out:
        out.write_bytes(response.content)
        console.print(f"saved {out} ({len(response.content):,} bytes)")
        return
    report = response.json()
    shown = language or "en"
    console.print(f"[bold]Weekly report {report['week']}[/bold] ({report['start']} to {report['end']})")
    this = report["this"]
    console.print(f"opened {this['opened']}, resolved {this['resolved']}, reopened {this['reopened']}")
    for movement in report["movements"]:
        console.print(f"- {movement['words'].get(shown, movement['words']['en'])}")
    for finding in report["recommendations"]["findings"]:
        console.print(f"* {finding['finding'].get(shown)}\n  {finding['suggestion'].get(shown)}")
    console.print(f"reviews: {len(report['reviews'])}, follow-ups overdue: {len(report['overdue_follow_ups'])}")
