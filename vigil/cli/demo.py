"""`vigil demo`: realistic synthetic incidents, driven through the API to a mix of states.

Everything goes through the public API with demo analysts' and leads' tokens, so the demo
obeys the same roles, four-eyes rule and state machine as people do.

`--weeks N` first writes a past: N weeks of incidents made by the state machine at simulated
times and written through the projection's own writer (vigil.synthetic_history), so trends,
recommendations and the weekly report have weeks to compare. Those incidents are labelled
(`external_ref` synthetic:<seed>:<n>), have no Temporal history and take no actions.
"""

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from vigil import auth, synthetic_history
from vigil.cli.http import DEFAULT_API, ApiOption, console, fail
from vigil.cli.users import database_session
from vigil.db.engine import engine
from vigil.domain import REGION_INCIDENT_TEAM, Region
from vigil.policy import load_policy

# (category, channel, english title, spanish title)
SCENARIOS = [
    (
        "child_safety",
        "automated_detection",
        "Hash match on known abuse imagery in a group chat",
        "Coincidencia de hash con material de abuso conocido en un chat grupal",
    ),
    (
        "child_safety",
        "trusted_flagger",
        "Adult account grooming minors via direct messages",
        "Cuenta adulta contactando a menores por mensajes directos",
    ),
    (
        "violent_extremism",
        "regulator",
        "Removal order: attack video re-uploaded in three places",
        "Orden de retirada: video de atentado resubido en tres lugares",
    ),
    (
        "violent_extremism",
        "law_enforcement",
        "Livestream announcing an attack on a school",
        "Transmisión en vivo que anuncia un ataque a una escuela",
    ),
    (
        "self_harm_suicide",
        "user_report",
        "User posting a goodbye note and method details",
        "Usuario publica una nota de despedida con detalles del método",
    ),
    (
        "hate_speech",
        "trusted_flagger",
        "Coordinated slurs against a migrant community",
        "Insultos coordinados contra una comunidad migrante",
    ),
    (
        "bullying_harassment",
        "user_report",
        "Pile-on harassment of a teenager after a viral clip",
        "Acoso masivo a una adolescente tras un video viral",
    ),
    (
        "sexual_violence",
        "user_report",
        "Non-consensual intimate images shared by an ex-partner",
        "Imágenes íntimas compartidas sin consentimiento por una expareja",
    ),
    (
        "graphic_violence",
        "automated_detection",
        "Torture footage spreading in reposts",
        "Video de tortura propagándose en republicaciones",
    ),
    (
        "animal_abuse",
        "user_report",
        "Animal cruelty videos sold through a channel",
        "Videos de maltrato animal vendidos a través de un canal",
    ),
    (
        "dangerous_challenges",
        "press",
        "Journalist asks about a blackout challenge trending among kids",
        "Periodista pregunta por un reto de asfixia popular entre niños",
    ),
    (
        "misinformation",
        "internal",
        "Fake polling-station closures ahead of an election",
        "Cierres falsos de centros de votación antes de una elección",
    ),
    (
        "privacy",
        "user_report",
        "Doxxing of a public health official's home address",
        "Publicación del domicilio de una funcionaria de salud",
    ),
    (
        "spam_scam",
        "automated_detection",
        "Crypto giveaway scam impersonating a bank",
        "Estafa de sorteo cripto suplantando a un banco",
    ),
    (
        "other",
        "internal",
        "Unclear report forwarded by the support team",
        "Reporte poco claro reenviado por el equipo de soporte",
    ),
]
REGIONS = [r.value for r in Region]
OTHER_TEAMS = ["legal", "public_policy", "product", "engineering"]

# Where each incident ends up, and how often.
TARGETS = {
    "triage": 10,
    "investigating": 20,
    "escalated": 15,
    "pending_approval": 15,
    "resolved_no_violation": 15,
    "resolved_actioned": 20,
    "merged": 5,
}


class DemoError(Exception):
    pass


class Driver:
    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, list[str]], rng: random.Random):
        self.http, self.tokens, self.rng = http, tokens, rng
        self.opened: list[str] = []

    def _headers(self, role: str, avoid: str | None = None) -> dict[str, str]:
        choices = [t for t in self.tokens[role] if t != avoid]
        return {"Authorization": f"Bearer {self.rng.choice(choices)}"}

    async def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = await self.http.post(path, json=body, headers=headers)
        if response.status_code >= 400:
            raise DemoError(f"{path} {body.get('type', 'intake')}: {response.status_code} {response.text[:200]}")
        return response.json()

    async def act(self, incident_id: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        return await self._post(f"/api/incidents/{incident_id}/actions", body, headers)

    def intake(self, index: int) -> dict[str, Any]:
        category, channel, title_en, title_es = self.rng.choice(SCENARIOS)
        region = self.rng.choice(REGIONS)
        language = "es" if region == "LATAM" or (region == "EMEA" and self.rng.random() < 0.3) else "en"
        return {
            "title": title_es if language == "es" else title_en,
            "description": "Synthetic incident created by `vigil demo`.",
            "channel": channel,
            "category": category,
            "region": region,
            "language": language,
            "content": [
                {
                    "url": f"https://content.example/{self.rng.randrange(10**9)}",
                    "graphic": category in ("graphic_violence", "animal_abuse"),
                }
            ],
            "reporter": {"name": "Demo Reporter", "email": "reporter@example.org"},
            "reach": int(self.rng.choice([50, 800, 12_000, 150_000, 2_500_000])),
        }

    async def drive(self, index: int, target: str) -> str:
        analyst = self._headers("analyst")
        body = self.intake(index)
        incident = await self._post("/api/incidents", body, analyst)
        iid = incident["id"]
        self.opened.append(iid)
        if target == "triage":
            return "triage"
        if target == "merged" and len(self.opened) > 1:
            others = [o for o in self.opened if o != iid]
            try:
                await self.act(iid, {"type": "merge_into", "incident_id": self.rng.choice(others)}, analyst)
                return "merged"
            except DemoError:
                pass  # the other one closed or has a legal clock: carry on as a normal incident
        await self.act(iid, {"type": "acknowledge"}, analyst)
        await self.act(
            iid, {"type": "add_note", "text": "Checked the account's history; notes in the case file."}, analyst
        )
        if target == "investigating":
            return "investigating"
        own_team = REGION_INCIDENT_TEAM[Region(body["region"])].value
        team = self.rng.choice(OTHER_TEAMS + [t for t in ("incident_emea", "incident_na") if t != own_team])
        await self.act(iid, {"type": "escalate", "team": team, "reason": "Needs their view before we act."}, analyst)
        if target == "escalated":
            return "escalated"
        await self.act(iid, {"type": "team_response", "team": team, "text": "Reviewed: no objection."}, analyst)
        if target == "resolved_no_violation":
            await self.act(
                iid,
                {
                    "type": "resolve",
                    "resolution": "no_violation",
                    "summary": "Reviewed against policy: no violation found.",
                },
                analyst,
            )
            return "resolved"
        return await self._enforce(iid, incident, body, analyst, wait_for_approval=target == "pending_approval")

    async def _enforce(
        self, iid: str, incident: dict[str, Any], body: dict[str, Any], analyst: dict[str, str], wait_for_approval: bool
    ) -> str:
        action = "regulator_report" if body["category"] == "child_safety" else "remove_content"
        if wait_for_approval:
            action = "terminate_account"  # always needs leadership approval
        proposal = {"type": "propose_action", "action": action, "rationale": "Clear violation of policy."}
        if body["region"] == "EMEA":
            proposal["statement_of_reasons"] = "Removed under our policy on this harm (EU DSA art. 17)."
        state = await self.act(iid, proposal, analyst)
        if wait_for_approval:
            return "pending_approval"
        pending = state["proposals"][-1]
        if pending["status"] == "pending":
            proposer = analyst["Authorization"]
            for _ in range(pending["quorum"]):
                lead = self._headers("lead", avoid=proposer.removeprefix("Bearer "))
                state = await self.act(
                    iid, {"type": "approve", "approval_id": pending["id"], "comment": "Agreed."}, lead
                )
                proposer = lead["Authorization"]  # the next approver must be another lead
        for _ in range(100):  # enforcement runs in the workflow; wait for it to report back
            if state["status"] in ("investigating", "escalated"):
                break
            await asyncio.sleep(0.2)
            state = (await self.http.get(f"/api/incidents/{iid}", headers=analyst)).json()
        try:
            await self.act(
                iid, {"type": "resolve", "resolution": "actioned", "summary": "Enforced and documented."}, analyst
            )
        except DemoError:
            return state["status"]  # e.g. a legal clock still needs another action: left for a person
        return "resolved"


async def run_demo(
    api_url: str, tokens: dict[str, list[str]], count: int, concurrency: int, seed: int | None, console: Console
) -> Counter[str]:
    rng = random.Random(seed)
    targets = rng.choices(list(TARGETS), weights=list(TARGETS.values()), k=count)
    outcome: Counter[str] = Counter()
    gate = asyncio.Semaphore(max(1, concurrency))
    async with httpx.AsyncClient(base_url=api_url.rstrip("/"), timeout=60) as http:
        driver = Driver(http, tokens, rng)
        with Progress(
            TextColumn("[bold]demo[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("incidents", total=count)

            async def one(index: int, target: str) -> None:
                async with gate:
                    try:
                        outcome[await driver.drive(index, target)] += 1
                    except (DemoError, httpx.HTTPError) as error:
                        outcome["failed"] += 1
                        console.print(f"[yellow]incident {index + 1}: {error}[/yellow]")
                    progress.advance(task)

            await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))
    return outcome


# ---------------------------------------------------------------------------- the command


def demo(
    incidents: Annotated[int, typer.Option(help="How many incidents to create")] = 40,
    concurrency: Annotated[int, typer.Option(help="Incidents driven at once")] = 8,
    seed: Annotated[int | None, typer.Option(help="Same seed, same incidents")] = None,
    weeks: Annotated[int, typer.Option(help="Also write a synthetic past of this many weeks (0: none)")] = 0,
    per_week: Annotated[int, typer.Option(help="Incidents a week in the synthetic past")] = 40,
    api_url: ApiOption = DEFAULT_API,
) -> None:
    """Realistic incidents across channels, categories and regions, in a mix of states."""
    if incidents < 1:
        raise fail("--incidents must be at least 1")
    if not 0 <= weeks <= 52 or not 1 <= per_week <= 2000:
        raise fail("--weeks must be 0 to 52 and --per-week 1 to 2000")
    with database_session() as session:
        tokens = _demo_tokens(session)
    if weeks:
        _write_past(weeks, per_week, seed if seed is not None else 2026)
    outcome = asyncio.run(run_demo(api_url, tokens, incidents, concurrency, seed, console))
    table = Table("state", "incidents")
    for state, count in sorted(outcome.items()):
        table.add_row(state, str(count))
    console.print(table)


def _write_past(weeks: int, per_week: int, seed: int) -> None:
    """The synthetic past (vigil.synthetic_history): labelled, read-only, no workflow behind it."""
    with console.status(f"writing {weeks} weeks of synthetic incidents ({per_week} a week)"):
        made = synthetic_history.generate(engine(), load_policy(), datetime.now(UTC), weeks, per_week, seed)
    states = Counter(one.story.now.status.value for one in made)
    console.print(
        f"[bold]{len(made)}[/bold] synthetic incidents over the last {weeks} weeks "
        f"({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}): made by the state machine at "
        "simulated times, labelled synthetic:<seed>:<n>; they have no Temporal history and take no actions."
    )


def _demo_tokens(session: Session) -> dict[str, list[str]]:
    """Demo people (created once), each with a fresh token for this run. The demo plays every
    person, so it enrols each one itself, the path a person takes with their secret."""
    people = {"analyst": ["demo-ana", "demo-bruno", "demo-chen"], "lead": ["demo-lena", "demo-leo", "demo-lucia"]}
    tokens: dict[str, list[str]] = {}
    for role, names in people.items():
        for name in names:
            try:
                secret = auth.issue_token(session, name, issued_by=auth.OPERATOR)
            except auth.UserError:
                try:
                    language = "es" if name in ("demo-bruno", "demo-lucia") else "en"
                    secret = auth.add_user(session, name, role, language)
                except auth.UserError as error:  # exists but disabled
                    raise fail(f"{error}: the demo needs it enabled") from None
            tokens.setdefault(role, []).append(auth.enrol(session, secret)[0])
    return tokens
