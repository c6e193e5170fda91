"""(g) Notice delivery: how fast Vigil delivers notices, against the same SMTP server and webhook
receiver fed by a bare loop.

1. Throughput: `--n` notices written to the outbox at once (as the projection writes them), each
   to a tier with one email address and one webhook (2n deliveries), delivered by `vigil worker`'s
   dispatcher. Baseline: a bare asyncio loop sending the same 2n messages with the same senders
   (vigil.notifications.senders) and the same concurrency, nothing recorded. Deliveries/s, ratio.
2. Delay under a breach burst, as in (f) (one wave): `--burst` SEV4 incidents opened as fast as
   they open, with an acknowledge SLA of `--due` seconds, so their deadlines fall as close together
   as the opening allows; each breach notice (email + webhook) is timed from the
   journal entry that called for it (outbox.occurred_at) to delivered (deliveries.sent_at).
   Baseline: the bare loop given the same number of messages at one instant, timed from that
   instant to each send. p99, ratio.

The SMTP server (aiosmtpd) and the webhook receiver run in this process (bench/receivers.py).

    python -m bench.notice_delivery [--n 2000] [--burst 2000] [--due 150]
"""

import argparse
import asyncio
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.receivers import MailCatcher, WebhookReceiver
from bench.report import Report, Row, percentile
from bench.stage import common_arguments, stage
from bench.timer_lateness import wait_for_rows
from bench.workload import bounded, intake_body
from vigil.db.tables import DeliveryRow, IncidentRow, OutboxRow
from vigil.db.upsert import insert_ignore
from vigil.notifications.dispatching import start_dispatcher
from vigil.notifications.senders import MailServer, Message, send_email, send_webhook
from vigil.policy import DEFAULT_POLICY_PATH
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.messages import IncidentStart
from vigil.workflows.state import Intake

SECRET = "bench-webhook-secret"
CONCURRENCY = 32  # the policy's [notifications] concurrency, for the bare loop too


def _policy(directory: Path, ack_seconds: int) -> Path:
    text = DEFAULT_POLICY_PATH.read_text().replace('version = "', 'version = "bench-notices-', 1)
    text = re.sub(r'(\[sla\.SEV4\]\nacknowledge = )"[^"]+"', rf'\g<1>"{ack_seconds}s"', text)
    text = text.replace('check_every = "30s"', 'check_every = "2s"')
    path = directory / "policy.toml"
    path.write_text(text)
    return path


def _directory(directory: Path, hooks: WebhookReceiver) -> Path:
    path = directory / "directory.toml"
    path.write_text(
        f'[tiers.regional_on_call_lead]\nemail = ["oncall@bench.example"]\nwebhook = "{hooks.url()}"\n'
        '[tiers.head_of_incident_management]\nemail = ["head-im@bench.example"]\n'
    )
    return path


def _notice(index: int, at: datetime) -> dict[str, object]:
    subject = f"[SEV2] BENCH-{index}: acknowledge SLA breached"
    body = "Incident: BENCH (SEV2, hate speech, NA)\nOpen it: http://localhost:8000\n"
    return {
        "key": f"bench:{index}",
        "incident_id": None,
        "kind": "breach",
        "recipient": "tier:regional_on_call_lead:NA",
        "language": "en",
        "subject": subject,
        "body": body,
        "created_at": at,
        "occurred_at": at,
        "severity": "SEV2",
        "messages": {"en": {"subject": subject, "body": body}, "es": {"subject": subject, "body": body}},
    }


async def _bare(mail: MailCatcher, hooks: WebhookReceiver, count: int) -> list[float]:
    """Send `count` emails and `count` webhooks as fast as the same senders can: seconds from the
    start to each send."""
    server = MailServer.from_url(mail.url, "Vigil <vigil@bench.example>")
    started = time.monotonic()
    done: list[float] = []
    async with httpx.AsyncClient() as http:

        async def one(index: int, webhook: bool) -> None:
            message = Message(f"bare-{index}-{webhook}", None, "breach", "SEV2", "en", "subject", "body", "x", None)
            if webhook:
                await send_webhook(http, hooks.url("/bare"), SECRET, message)
            else:
                await send_email(server, "oncall@bench.example", message)
            done.append(time.monotonic() - started)

        await bounded(CONCURRENCY, [one(i, w) for i in range(count) for w in (False, True)])
    return done


def _delivered(engine, since: datetime) -> list[tuple[datetime, datetime]]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return [
            (r.occurred_at, r.sent_at)
            for r in session.execute(
                select(OutboxRow.occurred_at, DeliveryRow.sent_at)
                .join(DeliveryRow, DeliveryRow.notice_key == OutboxRow.key)
                .where(DeliveryRow.status == "sent", OutboxRow.created_at >= since)
            )
        ]


async def _wait_sent(engine, count: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if (
                session.scalar(select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "sent"))
                >= count
            ):
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"fewer than {count} deliveries sent after {timeout}s")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def main(args: argparse.Namespace) -> Report:
    report = Report(
        "notice_delivery", f"python -m bench.notice_delivery --n {args.n} --burst {args.burst} --due {args.due}"
    )
    mail, hooks = MailCatcher().start(), WebhookReceiver(SECRET).start()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-notices-"))
    env = {
        "VIGIL_SMTP_URL": mail.url,
        "VIGIL_MAIL_FROM": "Vigil <vigil@bench.example>",
        "VIGIL_WEBHOOK_SECRET": SECRET,
        "VIGIL_DIRECTORY": str(_directory(work, hooks)),
        **dict(args.vigil_env),
    }
    try:
        with stage("notices", keep=args.keep, policy=_policy(work, args.due), api=False, extra_env=env) as current:
            client = await current.vigil.client()
            engine = current.vigil.engine()

            # 1. throughput: n notices at once into the outbox, then the dispatcher's wake-up
            at = datetime.now(UTC)
            with Session(engine) as session, session.begin():
                insert_ignore(session, OutboxRow, [_notice(i, at) for i in range(args.n)])
            started = time.monotonic()
            await start_dispatcher(client, "vigil", wake=True)
            await _wait_sent(engine, 2 * args.n, timeout=600)
            vigil_seconds = time.monotonic() - started
            bare = await _bare(mail, hooks, args.n)
            vigil_rate, bare_rate = 2 * args.n / vigil_seconds, 2 * args.n / max(bare)
            report.add(
                Row(
                    "(g) notices delivered",
                    "deliveries/s",
                    vigil_rate,
                    bare_rate,
                    "bare send loop",
                    vigil_rate / bare_rate,
                    ">= 0.5",
                    vigil_rate / bare_rate >= 0.5,
                )
            )

            # 2. a breach burst: SEV4 incidents whose acknowledge deadlines fall together
            burst_at = datetime.now(UTC)
            year = burst_at.year

            async def open_one(index: int) -> None:
                intake = Intake.model_validate(
                    {**intake_body("sev3"), "category": "spam_scam", "channel": "user_report"}
                )
                incident_id = f"INC-{year}-{index:06d}"
                start = IncidentStart(incident_id=incident_id, intake=intake)
                await client.start_workflow(IncidentWorkflow.run, start, id=incident_id, task_queue="vigil")

            opening = time.monotonic()
            await bounded(32, [open_one(i + 1) for i in range(args.burst)])
            await wait_for_rows(engine, IncidentRow, args.burst, timeout=args.due)
            opened_in = time.monotonic() - opening
            await _wait_sent(engine, 2 * args.n + 2 * args.burst, timeout=args.due + 600)
            delays = [
                (_aware(sent) - _aware(occurred)).total_seconds() for occurred, sent in _delivered(engine, burst_at)
            ]
            engine.dispose()
        bare_burst = await _bare(mail, hooks, args.burst)
    finally:
        mail.stop()
        hooks.stop()
        shutil.rmtree(work, ignore_errors=True)
    vigil_p99, bare_p99 = percentile(delays, 99), percentile(bare_burst, 99)
    report.add(
        Row(
            "(g) breach notice delivered p99",
            "s",
            vigil_p99,
            bare_p99,
            "bare loop, same burst",
            vigil_p99 / bare_p99 if bare_p99 else float("nan"),
            "<= 5 s",
            vigil_p99 <= 5,
        )
    )
    report.details.update(
        {
            "notices (throughput)": args.n,
            "deliveries (throughput)": 2 * args.n,
            "seconds to deliver them / bare": (round(vigil_seconds, 2), round(max(bare), 2)),
            "breach burst incidents": args.burst,
            "seconds to open the burst": round(opened_in, 1),
            "journal entry to delivered p50/p99/max (s)": (
                round(percentile(delays, 50), 2),
                round(vigil_p99, 2),
                round(max(delays), 2) if delays else None,
            ),
            "bare burst p50/p99 (s)": (round(percentile(bare_burst, 50), 2), round(bare_p99, 2)),
        }
    )
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--n", type=int, default=2000, help="notices for the throughput run (2 deliveries each)")
    parser.add_argument("--burst", type=int, default=2000, help="incidents in the breach burst")
    parser.add_argument("--due", type=int, default=150, help="acknowledge SLA of the burst, seconds")
    asyncio.run(main(parser.parse_args())).save_and_print()
