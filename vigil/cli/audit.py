"""`vigil audit ...`: what an auditor does, from a terminal.

    vigil audit export ID [--out FILE]          one incident's Temporal history (all runs), as JSON
    vigil audit bulk-export --out FILE.jsonl    many incidents, one JSON document per line
    vigil audit timeline ID [--language es]     what happened, in words
    vigil audit state ID [--after-event N]      the state right after event N, rebuilt and checked
    vigil audit replay [ID...] | --file FILE    replay against today's workflow code
    vigil audit verify ID | FILE                intact or altered, against the seal taken at close

Like `vigil incidents`, these talk to the API ($VIGIL_API) with your token ($VIGIL_TOKEN), so
they obey the same roles: histories, seals and replays are for auditors and admins. Two run
here instead: `replay --file` replays exported files in this process (it needs the payload
keys: VIGIL_ENCRYPTION_KEYS), and `verify FILE` recomputes the chain of an exported copy
here, asking the API only for the seal.
"""

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from vigil.cli.http import (
    DEFAULT_API,
    ApiFailed,
    ApiOption,
    JsonOption,
    TokenOption,
    answer,
    call,
    console,
    err,
    fail,
    headers,
)
from vigil.workflows.state import is_incident_id

audit_app = typer.Typer(help="Auditing: export, read, reconstruct, replay and verify histories.", no_args_is_help=True)


def _counted(counts: dict[str, int] | None) -> str:
    """The history a report read, said the same way by every command (vigil.audit.counts)."""
    if not counts:
        return "no history"
    runs, approvals = counts["runs"], counts["approval_requests"]
    return (
        f"{counts['events']} events in {runs} run{'' if runs == 1 else 's'}, "
        f"{approvals} approval request{'' if approvals == 1 else 's'}"
    )


def _write(document: Any, out: Path | None) -> None:
    text = json.dumps(document, ensure_ascii=False)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {out}")


# ---------------------------------------------------------------------------- export


@audit_app.command()
def export(
    incident_id: str,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout")] = None,
    approvals: Annotated[
        bool, typer.Option("--approvals/--no-approvals", help="Include the approval requests' histories")
    ] = True,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """One incident's Temporal history, every run, payloads still encrypted."""
    document = call(
        "GET", f"/api/incidents/{incident_id}/history", api_url, token, params={"approvals": str(approvals).lower()}
    )
    _write(document, out)


def _list_ids(api_url: str, token: str, filters: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params = {**filters, "limit": 200, "sort": "opened_at", "order": "asc"}
        if cursor:
            params["cursor"] = cursor
        page = call("GET", "/api/incidents", api_url, token, params=params)
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def _fetch_all(ids: list[str], api_url: str, token: str, out: Path, concurrency: int) -> list[tuple[str, str]]:
    """Writes one line per incident, in the order given; returns (id, why) for those that failed."""
    failures: list[tuple[str, str]] = []
    limit = asyncio.Semaphore(concurrency)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[progress.percentage]{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
    )
    async with httpx.AsyncClient(base_url=api_url.rstrip("/"), headers=headers(token), timeout=300) as http:

        async def one(incident_id: str) -> str | None:
            async with limit:
                try:
                    document = answer(await http.get(f"/api/incidents/{incident_id}/history"))
                except (ApiFailed, httpx.HTTPError) as error:
                    failures.append((incident_id, str(error)))
                    return None
                return json.dumps(document, ensure_ascii=False)

        with Progress(*columns, console=err) as progress, out.open("w", encoding="utf-8") as handle:
            task = progress.add_task("exporting histories", total=len(ids))
            pending = [asyncio.ensure_future(one(i)) for i in ids]
            for future in pending:  # in order, so the file lists incidents as selected
                line = await future
                if line is not None:
                    handle.write(line + "\n")
                progress.advance(task)
    return failures


@audit_app.command("bulk-export")
def bulk_export(
    incident_ids: Annotated[list[str] | None, typer.Argument(help="These incidents (else: the filter)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSON lines file to write")] = Path("histories.jsonl"),
    status: Annotated[list[str] | None, typer.Option(help="Repeat for several, e.g. closed")] = None,
    severity: Annotated[list[str] | None, typer.Option()] = None,
    region: Annotated[list[str] | None, typer.Option()] = None,
    category: Annotated[list[str] | None, typer.Option()] = None,
    channel: Annotated[list[str] | None, typer.Option()] = None,
    opened_from: Annotated[str | None, typer.Option(help="ISO 8601")] = None,
    opened_to: Annotated[str | None, typer.Option(help="ISO 8601")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=16, help="Histories fetched at once")] = 4,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """Many incidents' histories to a JSON lines file (one export document per line)."""
    if incident_ids:
        ids = list(dict.fromkeys(incident_ids))
    else:
        filters = {
            k: v
            for k, v in (
                ("status", status),
                ("severity", severity),
                ("region", region),
                ("category", category),
                ("channel", channel),
                ("opened_from", opened_from),
                ("opened_to", opened_to),
            )
            if v
        }
        ids = _list_ids(api_url, token, filters)
    if not ids:
        raise fail("no incident matches")
    failures = asyncio.run(_fetch_all(ids, api_url, token, out, concurrency))
    err.print(f"wrote {len(ids) - len(failures)} histories to {out}")
    for incident_id, why in failures:
        err.print(f"[yellow]skipped[/yellow] {incident_id}: {why}", highlight=False)
    if failures:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- reading


@audit_app.command()
def timeline(
    incident_id: str,
    language: Annotated[str | None, typer.Option("--language", "-l", help="en or es (default: yours)")] = None,
    as_json: JsonOption = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """What happened, in words: who, in which role, when; clocks, approvals, enforcement, the seal."""
    body = call("GET", f"/api/incidents/{incident_id}/timeline", api_url, token, language=language)
    if as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return
    console.print(f"[bold]{body['incident_id']}[/bold]: {_counted(body['counts'])}", highlight=False)
    for entry in body["entries"]:
        event = f"#{entry['event']}" if entry["event"] else "  "
        line = f"{entry['at'][:19].replace('T', ' ')} {event:>5}  {entry['text']}"
        console.print(line, style="red" if entry["refused"] else None, highlight=False, markup=False, soft_wrap=True)


@audit_app.command()
def state(
    incident_id: str,
    after_event: Annotated[
        int | None, typer.Option("--after-event", "-n", min=1, help="Event number across runs (default: the last)")
    ] = None,
    as_json: JsonOption = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """The incident as it was right after event N, folded from the recorded actions."""
    params = {"after_event": after_event} if after_event else {}
    body = call("GET", f"/api/incidents/{incident_id}/state", api_url, token, params=params)
    if as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return
    event, incident = body["event"], body["state"]
    console.print(
        f"[bold]{incident_id}[/bold] after event {event['number']} "
        f"({event['type']}, run {event['run']} event {event['event_id']}, {event['at'][:19]}) "
        f"of {_counted(body['counts'])}"
    )
    last = body["last_entry"]
    if last:
        console.print(
            f"  {body['entries']} journal entries applied; the last: #{last['entry_no']} {last['type']} "
            f"by {last['actor']} ({last['role']}) via {last['via']}, "
            f"caused by event {last['caused_by_event']}"
        )
    if incident is None:
        console.print("  not yet opened: triage had not finished")
    else:
        console.print(
            f"  {incident['severity']} [cyan]{incident['status']}[/cyan], assignee "
            f"{incident.get('assignee') or '-'}, {len(incident['proposals'])} proposal(s), "
            f"{sum(len(c['breaches']) for c in incident['clocks'])} breach(es)"
        )
    checks = body["checks"]
    mark = "[green]verified[/green]" if body["verified"] else "[red]MISMATCH[/red]"
    console.print(
        f"  {mark}: {sum(c['matches'] for c in checks)} of {len(checks)} states the workflow recorded "
        "up to this event match the fold"
    )
    for problem in body["problems"]:
        console.print(f"  [yellow]note:[/yellow] {problem}", highlight=False)


# ---------------------------------------------------------------------------- replay


def _print_reports(reports: list[dict[str, Any]]) -> None:
    table = Table("incident", "result", "history replayed", "first diverging event")
    for report in reports:
        color = {"ok": "green", "nondeterministic": "red", "failed": "red"}.get(report["result"], "yellow")
        divergence = report.get("divergence")
        where = ""
        if divergence:
            number = f"event {divergence['event']}" if divergence.get("event") else f"event {divergence['event_id']}"
            where = f"{divergence['workflow_id']} {number} ({divergence['event_type']}): {divergence['message']}"
            if divergence.get("known_cause"):
                where += f"\n{divergence['known_cause']}"
        table.add_row(
            report["incident_id"],
            f"[{color}]{report['result']}[/{color}]",
            _counted(report.get("counts")),
            where,
        )
    console.print(table)


def _local_replay(files: list[Path]) -> list[dict[str, Any]]:
    from vigil.api.routers.audit.schemas import ReplayReportOut
    from vigil.audit.history import BadDocument, read_documents
    from vigil.audit.replay import replay_many
    from vigil.temporal import data_converter

    histories = []
    for path in files:
        try:
            histories.extend(read_documents(path.read_text(encoding="utf-8")))
        except (OSError, BadDocument) as error:
            raise fail(f"{path}: {error}") from None
    reports = asyncio.run(replay_many(histories, data_converter()))
    return [ReplayReportOut.of(r).model_dump(mode="json", exclude_unset=True) for r in reports]


@audit_app.command()
def replay(
    incident_ids: Annotated[list[str] | None, typer.Argument(help="These incidents")] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="Replay exported files here instead (repeat; needs the payload keys)"),
    ] = None,
    status: Annotated[list[str] | None, typer.Option(help="Filter: e.g. closed (repeat for several)")] = None,
    region: Annotated[list[str] | None, typer.Option()] = None,
    severity: Annotated[list[str] | None, typer.Option()] = None,
    closed_from: Annotated[str | None, typer.Option(help="Closed at or after (ISO 8601)")] = None,
    closed_to: Annotated[str | None, typer.Option(help="Closed before (ISO 8601)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 200,
    as_json: JsonOption = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """Replay histories against today's workflow code: ok, or nondeterministic at the first diverging event.
    Exits 1 if any is not ok (a CI gate)."""
    if file:
        reports = _local_replay(file)
        body: dict[str, Any] = {"reports": reports}
    else:
        request: dict[str, Any] = {"limit": limit}
        if incident_ids:
            request["ids"] = incident_ids
        elif closed_from or closed_to:
            request.update({k: v for k, v in (("closed_from", closed_from), ("closed_to", closed_to)) if v})
        else:
            request["filter"] = {k: v for k, v in (("status", status), ("region", region), ("severity", severity)) if v}
        body = call("POST", "/api/audit/replay", api_url, token, json=request)
        reports = body["reports"]
    if as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        _print_reports(reports)
        ok = sum(r["result"] == "ok" for r in reports)
        console.print(f"{ok} of {len(reports)} incidents replay cleanly against today's code")
    if any(r["result"] != "ok" for r in reports):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- verify


def _verify_file(path: Path, api_url: str, token: str) -> list[dict[str, Any]]:
    """Each copy in the file checked here against the seal the API stores."""
    from vigil.audit.history import BadDocument, read_documents
    from vigil.audit.verdict import StoredSeal, verification

    try:
        copies = read_documents(path.read_text(encoding="utf-8"))
    except (OSError, BadDocument) as error:
        raise fail(f"{path}: {error}") from None
    verdicts = []
    for copy in copies:
        seal = StoredSeal.model_validate(call("GET", f"/api/incidents/{copy.incident_id}/seal", api_url, token))
        verdicts.append(verification(copy, seal).of_copy())
    return verdicts


@audit_app.command()
def verify(
    target: Annotated[str, typer.Argument(metavar="ID|FILE", help="An incident id, or an exported JSON/JSONL file")],
    as_json: JsonOption = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """Intact or altered: recompute the hash chain and compare it with the seal taken at close.
    Exits 1 if anything is altered."""
    path = Path(target)
    if path.exists():
        verdicts = _verify_file(path, api_url, token)
    elif is_incident_id(target):
        verdicts = [call("GET", f"/api/incidents/{target}/verify", api_url, token)]
    else:
        raise fail(f"{target}: neither an incident id (INC-YYYY-NNNNNN) nor a file")
    if as_json:
        print(json.dumps(verdicts if len(verdicts) > 1 else verdicts[0], indent=2))
    else:
        for v in verdicts:
            if v["intact"]:
                console.print(
                    f"[green]intact[/green]  {v['incident_id']}: {v['detail']} (SHA-256 {v['digest']})", soft_wrap=True
                )
            else:
                first = v.get("first_altered") or {}
                where = (
                    f"event {v['first_altered_event']} (run {first.get('run')}, event id {first.get('event_id')})"
                    if first
                    else f"event {v['first_altered_event']}"
                )
                console.print(
                    f"[red]ALTERED[/red] {v['incident_id']}: first altered: {where}. {v['detail']}", soft_wrap=True
                )
            console.print(f"        {_counted(v['counts'])}; the seal covers the first {v['sealed_events']}")
            if v.get("search_attribute_matches") is False:
                console.print("[red]  Temporal's HistoryDigest search attribute disagrees with the stored seal[/red]")
    if not all(v["intact"] for v in verdicts):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- repair


def _print_repair(record: dict[str, Any]) -> None:
    console.print(
        f"[bold]{record['incident_id']}[/bold]: diverges at event {record['diverging_event']} "
        f"({record['divergence']}); reset to event {record['reset_to_event']}, "
        f"{record['entries_kept']} journal entries kept, {record['entries_redone']} made again",
        highlight=False,
    )
    table = Table("entry", "action", "by", "via", "before", "after", "why")
    for action in record["actions"]:
        changed = action["after"] not in (action["before"], "not yet run")
        after = f"[red]{action['after']}[/red]" if changed else action["after"]
        table.add_row(
            str(action["entry_no"]),
            action["type"],
            action["actor"],
            action["via"],
            action["before"],
            after,
            action["reason"] or "",
        )
    console.print(table)
    for note in record["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)


@audit_app.command()
def repair(
    incident_id: str,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: kept with the repair and in the history")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Repair without showing the plan and asking first")] = False,
    as_json: JsonOption = False,
    api_url: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    """Reset an incident whose history no longer replays (admins): shows the plan, asks, repairs,
    and reports each action a person was answered for as it comes out now. Exits 1 on any difference."""
    path = f"/api/incidents/{incident_id}/repair"
    if not yes:
        planned = call("POST", path, api_url, token, json={"reason": reason, "dry_run": True})
        _print_repair(planned)
        if not typer.confirm("Reset it now?"):
            raise typer.Exit(1)
    record = call("POST", path, api_url, token, json={"reason": reason})
    if as_json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        _print_repair(record)
        state = "replays cleanly now" if record["replays_now"] else "[red]still does not replay[/red]"
        console.print(f"repaired as {record['new_run_id']}: {state}; {record['differences']} difference(s)")
    if record["differences"] or not record["replays_now"]:
        raise typer.Exit(1)
