"""The directory: who a recipient is, at which addresses. A TOML file named by VIGIL_DIRECTORY
(commented example: vigil/directory.example.toml).

Notices name abstract recipients (`team:legal`, `tier:regional_on_call_lead:EMEA`,
`audience:leadership`, `user:ana`); this module turns one into addresses, at the moment the
notice is about, so a breach at 03:00 pages whoever was on call at 03:00:

- a person (`user:NAME`, or a rota shift's `person`) is reached at their email (`vigil users add
  NAME --email ADDR`), in their own language;
- a team, tier or audience at its `email` list and `webhook`, in its `language` if it sets one
  (else the notice's: the region's);
- a tier's `rota` lists shifts; the shift that covers the moment names who is paged instead of
  the tier's `email` list, which remains the fallback when no shift covers it (or its person has
  no address). The webhook, a channel rather than a person, is always sent.

The file is read again when it changes; a bad file is refused with the key that is wrong, and the
directory already in force stays (at start-up a bad file stops the process, as the policy does).
"""

import hashlib
import logging
import os
import threading
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from vigil.auth import UserError, check_email
from vigil.domain import Language, Region, Team
from vigil.workflows.state import Username

log = logging.getLogger("vigil.directory")


def _email(value: str) -> str:
    try:
        return check_email(value) or ""
    except UserError:
        raise ValueError(f"{value[:80]!r} is not an email address") from None


def _webhook(value: str) -> str:
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value) or len(value) > 1000:
        raise ValueError(f"{value[:80]!r} is not an http(s) URL")
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]
WebhookUrl = Annotated[str, AfterValidator(_webhook)]
Audience = Literal["leadership", "stakeholders"]
# Tiers whose holder depends on the incident's region (the same set as notices.REGIONAL_TIERS).
REGIONAL_TIERS = frozenset({"regional_on_call_lead", "leads"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Shift(_Strict):
    """Who holds a tier from `from` until `to` (TOML datetimes with an offset)."""

    starts: AwareDatetime = Field(alias="from")
    ends: AwareDatetime = Field(alias="to")
    person: Username | None = None  # a Vigil user: reached at their email, in their language
    email: list[EmailAddress] = []

    @model_validator(mode="after")
    def _sensible(self) -> "Shift":
        if self.ends <= self.starts:
            raise ValueError("a shift must end after it starts")
        if not self.person and not self.email:
            raise ValueError("a shift names a person or an email")
        return self

    def covers(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends


class Entry(_Strict):
    email: list[EmailAddress] = []
    webhook: WebhookUrl | None = None
    language: Language | None = None
    rota: list[Shift] = []

    def on_shift(self, moment: datetime) -> list[Shift]:
        return [s for s in self.rota if s.covers(moment)]


class TierEntry(Entry):
    """A tier; a regional tier has a table per region, and its own keys for regions without one."""

    NA: Entry | None = None
    LATAM: Entry | None = None
    EMEA: Entry | None = None
    APAC: Entry | None = None

    def for_region(self, region: str | None) -> Entry:
        specific = getattr(self, region, None) if region and region in Region.__members__ else None
        return specific if isinstance(specific, Entry) else self


class Directory(_Strict):
    teams: dict[Team, Entry] = {}
    tiers: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")], TierEntry] = {}
    audiences: dict[Audience, Entry] = {}


@dataclass(frozen=True)
class Person:
    email: str | None
    language: str


@dataclass(frozen=True)
class Address:
    channel: Literal["email", "webhook"]
    address: str
    language: str | None  # None: the notice's own language


def resolve(directory: Directory, recipient: str, moment: datetime, people: dict[str, Person]) -> list[Address]:
    """Every address a recipient has at `moment`; [] when the directory does not know it."""
    kind, _, rest = recipient.partition(":")
    if kind == "user":
        person = people.get(rest)
        return [Address("email", person.email, person.language)] if person and person.email else []
    entry = _entry(directory, kind, rest)
    if entry is None:
        return []
    addresses: list[Address] = []
    for shift in entry.on_shift(moment):
        holder = people.get(shift.person) if shift.person else None
        if holder and holder.email:
            addresses.append(Address("email", holder.email, holder.language))
        addresses += [Address("email", email, entry.language) for email in shift.email]
    if not addresses:  # nobody on shift (or unreachable): the tier's own list
        addresses = [Address("email", email, entry.language) for email in entry.email]
    if entry.webhook:
        addresses.append(Address("webhook", entry.webhook, entry.language))
    unique: dict[str, Address] = {}
    for address in addresses:
        unique.setdefault(address.address, address)
    return list(unique.values())


def _entry(directory: Directory, kind: str, rest: str) -> Entry | None:
    if kind == "team":
        return directory.teams.get(rest)  # type: ignore[call-overload]
    if kind == "audience":
        return directory.audiences.get(rest)  # type: ignore[call-overload]
    if kind == "tier":
        tier, _, region = rest.partition(":")
        found = directory.tiers.get(tier)
        return found.for_region(region or None) if found else None
    return None


@dataclass(frozen=True)
class Handoff:
    tier: str
    region: str | None
    holder: str  # the person's name, or their email
    starts: datetime
    ends: datetime


def handoffs(directory: Directory, since: datetime, until: datetime) -> list[Handoff]:
    """The shifts that overlap [since, until), soonest first: the console's on-call list."""
    found = []
    for tier, entry in directory.tiers.items():
        regional = [(None, entry)] + [(r.value, getattr(entry, r.value)) for r in Region]
        for region, part in regional:
            if part is None:
                continue
            for shift in part.rota:
                if shift.ends > since and shift.starts < until:
                    holder = shift.person or ", ".join(shift.email)
                    found.append(Handoff(tier, region, holder, shift.starts, shift.ends))
    return sorted(found, key=lambda h: (h.starts, h.tier, h.region or ""))


# ---------------------------------------------------------------------------- the file


class DirectoryError(Exception):
    """The directory file cannot be used; the message names the file and the key."""


def parse_directory(text: str, source: str = "<string>") -> Directory:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DirectoryError(f"directory file {source} is not valid TOML: {error}") from error
    try:
        return Directory.model_validate(data)
    except ValidationError as error:
        lines = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(top level)"
            lines.append(f"  {key}: {item['msg'].removeprefix('Value error, ')}")
        raise DirectoryError(f"directory file {source} is invalid:\n" + "\n".join(lines)) from error


def directory_path() -> Path | None:
    value = os.environ.get("VIGIL_DIRECTORY", "").strip()
    return Path(value) if value else None


class DirectoryFile:
    """The directory in force, read again when its file changes (checked at most once a second).

    `load()` at start-up raises DirectoryError for a bad file; later a bad edit is logged with
    the wrong key and the directory already in force stays, so a typo never silences Vigil."""

    def __init__(self, path: Path | None, check_every: float = 1.0):
        self.path = path
        self._check_every = check_every
        self._lock = threading.Lock()
        self._directory = Directory()
        self._version = "none"
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self.last_error: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> "DirectoryFile":
        source = cls(path if path is not None else directory_path())
        if source.path is not None:
            source._read(strict=True)
        return source

    @property
    def configured(self) -> bool:
        return self.path is not None

    def current(self) -> tuple[Directory, str]:
        """The directory and its version (a digest of the file, "none" without one)."""
        with self._lock:
            if self.path is not None and time.monotonic() - self._checked >= self._check_every:
                self._read(strict=False)
            return self._directory, self._version

    def _read(self, strict: bool) -> None:
        assert self.path is not None
        self._checked = time.monotonic()
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return
            raw = self.path.read_bytes()
            directory = parse_directory(raw.decode("utf-8"), str(self.path))
        except (OSError, UnicodeDecodeError, DirectoryError) as error:
            message = str(error) if isinstance(error, DirectoryError) else f"directory file {self.path}: {error}"
            if strict:
                raise DirectoryError(message) from None
            if message != self.last_error:
                log.error("%s\nthe directory in force stays until the file is fixed", message)
            self.last_error = message
            return
        self._directory, self._stamp = directory, stamp
        self._version = hashlib.sha256(raw).hexdigest()[:16]
        if self.last_error or not strict:
            log.info("directory %s reloaded (version %s)", self.path, self._version)
        self.last_error = None
