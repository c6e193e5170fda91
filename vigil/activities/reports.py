"""The weekly report's one side effect: the notice that it is out, to the policy's audience.

Idempotent: the notice is keyed by the week and the audience, so a retried or repeated run for
the same week writes nothing twice. The notice carries the headline numbers and the movements in
words (ids, severities, categories and numbers: never a title or content) and the link."""

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio import activity

from vigil.db.tables import OutboxRow
from vigil.db.upsert import insert_ignore
from vigil.i18n import render
from vigil.policy import Policy
from vigil.reports.weekly import last_complete_week, weekly_report


class ReportActivities:
    def __init__(self, engine: Engine, policy: Policy, public_url: str):
        self._engine = engine
        self._policy = policy
        self._public_url = public_url

    @activity.defn(name="send_weekly_report")
    def send_weekly_report(self, at: datetime) -> str:
        """For the last whole week before `at` (in the policy's time zone): the week, e.g. 2026-W48."""
        settings = self._policy.weekly_report
        monday = last_complete_week(at, settings.time_zone)
        recipient = f"audience:{settings.audience}"
        language = "en"
        with Session(self._engine) as session, session.begin():
            report = weekly_report(session, self._policy, monday, now=at)
            link = f"{self._public_url}/reports/weekly?week={report.week}"
            text = render("notifications/weekly_report.txt", language, report=report, link=link)
            subject, _, body = text.partition("\n")
            insert_ignore(
                session,
                OutboxRow,
                [
                    {
                        "key": f"weekly-report:{report.week}:{recipient}",
                        "incident_id": "",
                        "kind": "weekly_report",
                        "recipient": recipient,
                        "language": language,
                        "subject": subject.strip(),
                        "body": body.strip() + "\n",
                        "created_at": at,
                    }
                ],
            )
        return report.week
