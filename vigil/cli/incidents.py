"""`vigil incidents ...`: take in, list, show and act, through the API with your token."""

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from vigil.cli.http import DEFAULT_API, ApiOption, TokenOption, call, console, fail

incidents_app = typer.Typer(help="Incidents, through the API (needs $VIGIL_TOKEN).", no_args_is_help=True)


def _print_incident(incident: dict[str, Any]) -> None:
    intake = incident["intake"]
    console.print(
        f"[bold]{incident['id']}[/bold]  {incident['severity']}  [cyan]{incident['status']}[/cyan]  {intake['title']}"
    )
    console.print(
        f"  {intake['channel']} · {intake['category']} · {intake['region']} · {intake['language']}"
        f" · assignee: {incident.get('assignee') or '-'}"
    )
    for team in incident.get("teams", []):
        answered = "answered" if team["responses"] else "waiting"
        console.print(f"  team {team['team']}: {answered}")
    for proposal in incident.get("proposals", []):
        console.print(
            f"  {proposal['id']}: {proposal['action']} [{proposal['status']}] by {proposal['proposed_by']}"
            f" (approvals {len([v for v in proposal['votes'] if v['decision'] == 'approve'])}"
            f"/{proposal['quorum']})"
        )
    for clock in incident.get("clocks", []):
        if clock.get("met_at") is None and clock.get("cancelled_at") is None:
            breached = f", breached {len(clock['breaches'])}x" if clock["breaches"] else ""
            console.print(f"  clock {clock['id']}: due {clock['due_at']}{breached}")


@incidents_app.command("create")
def incidents_create(
    title: Annotated[str | None, typer.Option(help="Short title")] = None,
    channel: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option(help="NA, LATAM, EMEA or APAC")] = None,
    language: Annotated[str, typer.Option()] = "en",
    description: Annotated[str, typer.Option()] = "",
    reach: Annotated[int, typer.Option(help="People who saw the content")] = 0,
    external_ref: Annotated[str | None, typer.Option(help="The channel's own reference (makes retries safe)")] = None,
    from_json: Annotated[str | None, typer.Option("--json", help="The whole intake as JSON ('-' for stdin)")] = None,
    as_json: Annotated[bool, typer.Option("--output-json", help="Print the raw JSON")] = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """Take in an incident."""
    if from_json:
        text = sys.stdin.read() if from_json == "-" else open(from_json, encoding="utf-8").read()
        try:
            body = json.loads(text)
        except ValueError as error:
            raise fail(f"--json: not valid JSON ({error})") from None
    else:
        missing = [
            n for n, v in (("title", title), ("channel", channel), ("category", category), ("region", region)) if not v
        ]
        if missing:
            raise fail(f"missing --{', --'.join(missing)} (or pass --json)")
        body = {
            "title": title,
            "channel": channel,
            "category": category,
            "region": region,
            "language": language,
            "description": description,
            "reach": reach,
        }
        if external_ref:
            body["external_ref"] = external_ref
    incident = call("POST", "/api/incidents", api_url, token, json=body)
    if as_json:
        print(json.dumps(incident, indent=2))
    else:
        _print_incident(incident)


@incidents_app.command("list")
def incidents_list(
    status: Annotated[list[str] | None, typer.Option(help="Repeat for several")] = None,
    severity: Annotated[list[str] | None, typer.Option()] = None,
    region: Annotated[list[str] | None, typer.Option()] = None,
    category: Annotated[list[str] | None, typer.Option()] = None,
    assignee: Annotated[str | None, typer.Option()] = None,
    text: Annotated[str | None, typer.Option(help="Words in the title")] = None,
    sort: Annotated[str, typer.Option(help="opened_at, updated_at, severity or next_deadline")] = "opened_at",
    order: Annotated[str, typer.Option(help="asc or desc")] = "desc",
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--output-json")] = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """List incidents, newest first (sort severity asc for the work queue)."""
    params: dict[str, Any] = {"sort": sort, "order": order, "limit": limit}
    for key, value in (
        ("status", status),
        ("severity", severity),
        ("region", region),
        ("category", category),
        ("assignee", assignee),
        ("text", text),
    ):
        if value:
            params[key] = value
    page = call("GET", "/api/incidents", api_url, token, params=params)
    if as_json:
        print(json.dumps(page, indent=2))
        return
    table = Table(Column("id", no_wrap=True), "sev", "status", "region", "category", "assignee", "opened", "title")
    for item in page["items"]:
        table.add_row(
            item["id"],
            item["severity"],
            item["status"],
            item["region"],
            item["category"],
            item["assignee"] or "",
            item["opened_at"][:16].replace("T", " "),
            item["title"][:60],
        )
    console.print(table)
    if page["next_cursor"]:
        console.print(f"(more: raise --limit, or use the API with cursor={page['next_cursor']})")


@incidents_app.command("show")
def incidents_show(
    incident_id: str,
    as_json: Annotated[bool, typer.Option("--output-json")] = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """One incident, live."""
    incident = call("GET", f"/api/incidents/{incident_id}", api_url, token)
    if as_json:
        print(json.dumps(incident, indent=2))
    else:
        _print_incident(incident)


@incidents_app.command("act", context_settings={"help_option_names": ["-h", "--help"]})
def incidents_act(
    incident_id: str,
    action_type: Annotated[str, typer.Argument(metavar="TYPE", help="acknowledge, assign, escalate, approve, ...")],
    fields: Annotated[list[str] | None, typer.Argument(metavar="[FIELD=VALUE]...", help="e.g. team=legal")] = None,
    as_json: Annotated[bool, typer.Option("--output-json")] = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """Act on an incident: `vigil incidents act INC-2026-000001 escalate team=legal reason="..."`."""
    body: dict[str, Any] = {"type": action_type}
    for item in fields or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"{item!r}: expected FIELD=VALUE")
        body[key] = value
    incident = call("POST", f"/api/incidents/{incident_id}/actions", api_url, token, json=body)
    if as_json:
        print(json.dumps(incident, indent=2))
    else:
        _print_incident(incident)
