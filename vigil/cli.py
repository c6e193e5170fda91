"""The `vigil` command.

    vigil up                      the whole system on this machine (Temporal, worker, API)
    vigil worker | vigil api      one process of it, for running many
    vigil db upgrade              bring the database schema up to date
    vigil users add NAME --role   people and their tokens (straight to the database)
    vigil incidents ...           create, list, show and act, through the API with your token
    vigil demo --incidents N      realistic incidents in a mix of states, to explore

Incident commands talk to the API at $VIGIL_API (default http://127.0.0.1:8000) with the
token in $VIGIL_TOKEN, so they obey the same roles and rules as every other client.
"""

import asyncio
import json
import logging
import os
import sys
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.orm import Session

from vigil import auth
from vigil.api_reply import api_error_message
from vigil.audit_cli import audit_app
from vigil.config import settings
from vigil.policy import PolicyError

app = typer.Typer(help="Vigil: the Trust & Safety incident lifecycle on Temporal.", no_args_is_help=True)
users_app = typer.Typer(help="People and their tokens (run on a machine with the database).", no_args_is_help=True)
incidents_app = typer.Typer(help="Incidents, through the API (needs $VIGIL_TOKEN).", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(incidents_app, name="incidents")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")

console = Console()
err = Console(stderr=True)

ApiOption = Annotated[str, typer.Option("--api", envvar="VIGIL_API", help="Vigil API base URL")]
TokenOption = Annotated[
    str, typer.Option("--token", envvar="VIGIL_TOKEN", help="Your bearer token", show_default=False)
]
DEFAULT_API = "http://127.0.0.1:8000"


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# ---------------------------------------------------------------------------- processes


@app.command()
def up(
    port: Annotated[int, typer.Option(help="API and console port")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    temporal_port: Annotated[int, typer.Option(help="Temporal dev server gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    worker_metrics_port: Annotated[int | None, typer.Option(help="Serve the worker's Temporal metrics here")] = None,
) -> None:
    """Run Vigil on this machine: Temporal dev server, worker and API. Ctrl-C stops all three."""
    from vigil.stack import Stack

    raise typer.Exit(
        Stack(
            host=host,
            port=port,
            temporal_port=temporal_port,
            ui_port=ui_port,
            worker_metrics_port=worker_metrics_port,
            console=console,
        ).run()
    )


@app.command()
def worker() -> None:
    """Run a worker (workflows and activities) until SIGTERM or Ctrl-C. Run as many as you need."""
    from vigil.worker import run_worker

    _logging()
    try:
        asyncio.run(run_worker())
    except PolicyError as error:
        raise _fail(str(error), 2) from None
    except KeyboardInterrupt:
        pass


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    migrate_db: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Upgrade the schema first")] = True,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log")] = True,
) -> None:
    """Serve the API (and console). Run as many replicas as you need behind a load balancer."""
    import uvicorn

    from vigil.db.engine import migrate

    if migrate_db:
        migrate()
    uvicorn.run(
        "vigil.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        proxy_headers=True,
        log_level="info",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to the latest version (safe to run from several processes at once)."""
    from vigil.db.engine import migrate

    migrate()
    console.print(f"database at {_safe_url()} is up to date")


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings().database_url).render_as_string(hide_password=True)


# ---------------------------------------------------------------------------- users


def _session() -> Session:
    from vigil.db.engine import engine, migrate

    migrate()  # first use on a fresh machine: create the tables
    return Session(engine(), expire_on_commit=False)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="analyst, lead, auditor or admin")],
    language: Annotated[str, typer.Option(help="en or es: notifications and timelines")] = "en",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the token")] = False,
) -> None:
    """Add a person and print their first token (shown once)."""
    with _session() as session:
        try:
            token = auth.add_user(session, name, role, language)
        except auth.UserError as error:
            raise _fail(str(error)) from None
    if quiet:
        print(token)
    else:
        console.print(f"added {name} ({role}). Token (shown once):")
        print(token)


@users_app.command("token")
def users_token(name: str, quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False) -> None:
    """Issue another token for a person (their other tokens keep working)."""
    with _session() as session:
        try:
            token = auth.issue_token(session, name)
        except auth.UserError as error:
            raise _fail(str(error)) from None
    if not quiet:
        console.print(f"new token for {name} (shown once):")
    print(token)


@users_app.command("revoke")
def users_revoke(name: str) -> None:
    """Revoke every token of a person."""
    with _session() as session:
        count = auth.revoke_tokens(session, name)
    console.print(f"revoked {count} token(s) of {name}")


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a person: their tokens stop working; their history stays."""
    with _session() as session:
        try:
            auth.disable_user(session, name)
        except auth.UserError as error:
            raise _fail(str(error)) from None
    console.print(f"disabled {name}")


@users_app.command("list")
def users_list() -> None:
    """Everyone, with role and language."""
    table = Table("name", "role", "language", "created", "disabled")
    with _session() as session:
        for user in auth.list_users(session):
            table.add_row(
                user.name,
                user.role,
                user.language,
                f"{user.created_at:%Y-%m-%d}",
                f"{user.disabled_at:%Y-%m-%d}" if user.disabled_at else "",
            )
    console.print(table)


# ---------------------------------------------------------------------------- incidents (via the API)


def _call(method: str, path: str, api_url: str, token: str, **kwargs: Any) -> Any:
    if not token:
        raise _fail("no token: set VIGIL_TOKEN or pass --token (vigil users add prints one)")
    try:
        response = httpx.request(
            method, api_url.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs
        )
    except httpx.HTTPError as error:
        raise _fail(f"cannot reach the API at {api_url}: {error}") from None
    if response.status_code >= 400:
        raise _fail(api_error_message(response))
    return response.json()


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
            raise _fail(f"--json: not valid JSON ({error})") from None
    else:
        missing = [
            n for n, v in (("title", title), ("channel", channel), ("category", category), ("region", region)) if not v
        ]
        if missing:
            raise _fail(f"missing --{', --'.join(missing)} (or pass --json)")
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
    incident = _call("POST", "/api/incidents", api_url, token, json=body)
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
    page = _call("GET", "/api/incidents", api_url, token, params=params)
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
    incident = _call("GET", f"/api/incidents/{incident_id}", api_url, token)
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
            raise _fail(f"{item!r}: expected FIELD=VALUE")
        body[key] = value
    incident = _call("POST", f"/api/incidents/{incident_id}/actions", api_url, token, json=body)
    if as_json:
        print(json.dumps(incident, indent=2))
    else:
        _print_incident(incident)


# ---------------------------------------------------------------------------- demo


@app.command()
def demo(
    incidents: Annotated[int, typer.Option(help="How many incidents to create")] = 40,
    concurrency: Annotated[int, typer.Option(help="Incidents driven at once")] = 8,
    seed: Annotated[int | None, typer.Option(help="Same seed, same incidents")] = None,
    api_url: ApiOption = DEFAULT_API,
) -> None:
    """Realistic incidents across channels, categories and regions, in a mix of states."""
    from vigil.demo import run_demo

    if incidents < 1:
        raise _fail("--incidents must be at least 1")
    with _session() as session:
        tokens = _demo_tokens(session)
    outcome = asyncio.run(run_demo(api_url, tokens, incidents, concurrency, seed, console))
    table = Table("state", "incidents")
    for state, count in sorted(outcome.items()):
        table.add_row(state, str(count))
    console.print(table)


def _demo_tokens(session: Session) -> dict[str, list[str]]:
    """Demo people (created once), each with a fresh token for this run."""
    people = {"analyst": ["demo-ana", "demo-bruno", "demo-chen"], "lead": ["demo-lena", "demo-leo", "demo-lucia"]}
    tokens: dict[str, list[str]] = {}
    for role, names in people.items():
        for name in names:
            try:
                token = auth.issue_token(session, name)
            except auth.UserError:
                try:
                    token = auth.add_user(session, name, role, "es" if name in ("demo-bruno", "demo-lucia") else "en")
                except auth.UserError as error:  # exists but disabled
                    raise _fail(f"{error}: the demo needs it enabled") from None
            tokens.setdefault(role, []).append(token)
    return tokens


def main() -> None:
    """The `vigil` console script: the Typer app, with outages explained in one line, not a traceback."""
    from sqlalchemy.exc import OperationalError

    try:
        app(prog_name="vigil")
    except OperationalError as error:
        err.print(f"[red]error:[/red] cannot reach the database at {_safe_url()}: {error.orig}")
        exit_now(3)
    except RuntimeError as error:
        if "client connect" not in str(error).lower():
            raise
        err.print(
            f"[red]error:[/red] cannot reach Temporal at {settings().temporal_address}: is it running? "
            "(vigil up starts one; or set TEMPORAL_ADDRESS)"
        )
        exit_now(3)
    except SystemExit as done:  # click ends every command this way, success included
        if isinstance(done.code, str):
            err.print(done.code)
        exit_now(1 if isinstance(done.code, str) else done.code or 0)


def exit_now(code: int) -> None:
    """Exit without the interpreter's finalization, once everything written is flushed.

    The Temporal SDK's Rust threads can still call into Python while the interpreter finalizes,
    which aborts a process that had finished cleanly ("Fatal Python error: PyGILState_Release",
    temporalio/sdk-python#300; seen in CI as a worker killed by SIGABRT after its SIGTERM
    shutdown). Every command has done its work by now, so there is nothing left to finalize.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nobody is reading any more
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
