"""The `vigil` command: the root app, the commands that run Vigil's processes, and `main`.

vigil up                      the whole system on this machine (Temporal, worker, API)
vigil worker | vigil api      one process of it, for running many
vigil db upgrade              bring the database schema up to date
vigil users add NAME --role   people, enrolment secrets and tokens (straight to the database)
vigil incidents ...           create, list, show and act, through the API with your token
vigil audit ...               export, read, reconstruct, replay and verify histories
vigil demo --incidents N      realistic incidents in a mix of states, to explore (--weeks N: a past too)
vigil report weekly           the weekly leadership report (--out report.pdf)
vigil digest --now            send the leadership digest at once (it also runs daily, by policy)
"""

import asyncio
import logging
import os
import sys
from typing import Annotated

import typer

from vigil.cli.audit import audit_app
from vigil.cli.demo import demo
from vigil.cli.http import console, err, fail
from vigil.cli.incidents import incidents_app
from vigil.cli.report import report_app
from vigil.cli.users import users_app
from vigil.config import settings
from vigil.notifications.directory import DirectoryError
from vigil.policy import PolicyError
from vigil.temporal import TemporalUnreachable

app = typer.Typer(help="Vigil: the Trust & Safety incident lifecycle on Temporal.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(incidents_app, name="incidents")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.command()(demo)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def up(
    port: Annotated[int, typer.Option(help="API and console port")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    temporal_port: Annotated[int, typer.Option(help="Temporal dev server gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    worker_metrics_port: Annotated[int | None, typer.Option(help="Serve the worker's Temporal metrics here")] = None,
    activity_processes: Annotated[
        int,
        typer.Option(
            min=0,
            envvar="VIGIL_ACTIVITY_PROCESSES",
            help="Worker processes that run the activities beside the workflows' (0: one)",
        ),
    ] = 1,
) -> None:
    """Run Vigil on this machine: Temporal dev server, worker and API. Ctrl-C stops all three."""
    from vigil.cli.stack import Stack

    raise typer.Exit(
        Stack(
            host=host,
            port=port,
            temporal_port=temporal_port,
            ui_port=ui_port,
            worker_metrics_port=worker_metrics_port,
            activity_processes=activity_processes,
            console=console,
        ).run()
    )


@app.command()
def worker(
    activity_processes: Annotated[
        int,
        typer.Option(
            min=0,
            envvar="VIGIL_ACTIVITY_PROCESSES",
            help="Processes beside this one that run the activities (0: all in this one)",
        ),
    ] = 1,
    activities_only: Annotated[bool, typer.Option(hidden=True, help="Run only the activities")] = False,
) -> None:
    """Run a worker (workflows and activities) until SIGTERM or Ctrl-C. Run as many as you need."""
    from vigil.worker import run_activity_worker, run_worker

    _logging()
    try:
        asyncio.run(run_activity_worker() if activities_only else run_worker(activity_processes))
    except (PolicyError, DirectoryError, ValueError) as error:  # a bad policy, directory or VIGIL_SMTP_URL
        raise fail(str(error), 2) from None
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


@app.command()
def digest(
    now: Annotated[bool, typer.Option("--now", help="Send one at once (the daily one runs on its schedule)")] = False,
) -> None:
    """The leadership digest: open SEV1/SEV2, the last 24 hours, approvals waiting (to audience:leadership)."""
    if not now:
        raise fail("the digest runs daily as the policy's [digest] says; `vigil digest --now` sends one at once")
    from vigil.notifications.schedules import digest_now
    from vigil.temporal import connect

    async def run() -> str:
        client = await connect(settings())
        return await digest_now(client, settings().task_queue)

    started = asyncio.run(run())
    console.print(
        f"digest requested ({started}): a worker writes it to the outbox and delivers it to audience:leadership"
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


def main() -> None:
    """The `vigil` console script: the Typer app, with outages explained in one line, not a traceback."""
    from sqlalchemy.exc import OperationalError

    try:
        app(prog_name="vigil")
    except OperationalError as error:
        err.print(f"[red]error:[/red] cannot reach the database at {_safe_url()}: {error.orig}")
        exit_now(3)
    except TemporalUnreachable as error:
        err.print(f"[red]error:[/red] {error}: is it running? (vigil up starts one; or set TEMPORAL_ADDRESS)")
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
