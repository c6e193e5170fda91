"""The vocabulary every part of Vigil shares: channels, harm categories, statuses, roles.

Plain string enums, so they serialise as their value in JSON, SQL and Temporal payloads.
"""

from enum import StrEnum


class Channel(StrEnum):
    USER_REPORT = "user_report"
    AUTOMATED_DETECTION = "automated_detection"
    LAW_ENFORCEMENT = "law_enforcement"
    REGULATOR = "regulator"
    PRESS = "press"
    TRUSTED_FLAGGER = "trusted_flagger"
    INTERNAL = "internal"


class Category(StrEnum):
    CHILD_SAFETY = "child_safety"
    VIOLENT_EXTREMISM = "violent_extremism"
    SELF_HARM_SUICIDE = "self_harm_suicide"
    HATE_SPEECH = "hate_speech"
    BULLYING_HARASSMENT = "bullying_harassment"
    SEXUAL_VIOLENCE = "sexual_violence"
    GRAPHIC_VIOLENCE = "graphic_violence"  # torture, murder
    ANIMAL_ABUSE = "animal_abuse"
    DANGEROUS_CHALLENGES = "dangerous_challenges"
    MISINFORMATION = "misinformation"
    PRIVACY = "privacy"
    SPAM_SCAM = "spam_scam"
    OTHER = "other"


class Region(StrEnum):
    NA = "NA"
    LATAM = "LATAM"
    EMEA = "EMEA"
    APAC = "APAC"


class Language(StrEnum):
    EN = "en"
    ES = "es"


class Severity(StrEnum):
    """SEV1 is the most severe. Sorting by value sorts most severe first."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class Status(StrEnum):
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    PENDING_APPROVAL = "pending_approval"
    ACTIONING = "actioning"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


TERMINAL_STATUSES = frozenset({Status.CLOSED, Status.MERGED})


class Team(StrEnum):
    LEGAL = "legal"
    PUBLIC_POLICY = "public_policy"
    PRODUCT = "product"
    ENGINEERING = "engineering"
    INCIDENT_NA = "incident_na"
    INCIDENT_LATAM = "incident_latam"
    INCIDENT_EMEA = "incident_emea"
    INCIDENT_APAC = "incident_apac"


REGION_INCIDENT_TEAM = {
    Region.NA: Team.INCIDENT_NA,
    Region.LATAM: Team.INCIDENT_LATAM,
    Region.EMEA: Team.INCIDENT_EMEA,
    Region.APAC: Team.INCIDENT_APAC,
}


class EnforcementAction(StrEnum):
    REMOVE_CONTENT = "remove_content"
    GEO_BLOCK = "geo_block"
    SUSPEND_ACCOUNT = "suspend_account"
    TERMINATE_ACCOUNT = "terminate_account"
    LAW_ENFORCEMENT_DISCLOSURE = "law_enforcement_disclosure"
    REGULATOR_REPORT = "regulator_report"
    PUBLIC_STATEMENT = "public_statement"
    NO_ACTION = "no_action"


class Resolution(StrEnum):
    ACTIONED = "actioned"
    NO_VIOLATION = "no_violation"
    DUPLICATE = "duplicate"
    REFERRED = "referred"
    INSUFFICIENT_INFORMATION = "insufficient_information"


class Role(StrEnum):
    ANALYST = "analyst"
    LEAD = "lead"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # Vigil itself: timers, triage, enforcement results. Never held by a token.
    SYSTEM = "system"


HUMAN_ROLES = (Role.ANALYST, Role.LEAD, Role.AUDITOR, Role.ADMIN)
