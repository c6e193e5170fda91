"""Full-text search over incidents: the words of each incident, and the condition that finds them.

An incident's searchable words are its title, description, external_ref, content URLs, notes and
the accounts its proposals target (never its reporter: need-to-know). The projection writes them
to `incident_search` with the incident (`search_row`), as one line of words made here: lower
case, accents dropped, split on anything but letters and digits, so a URL is its host and path
words and both databases see exactly the same words. PostgreSQL indexes them in a tsvector column
(GIN, the 'simple' configuration: no stemming, so English and Spanish alike); SQLite in an FTS5
table that triggers keep in step (migration 0009_search).

A search matches an incident that holds every word of the query, each as a word or the start of
one ("monter" finds Monterrey, "policia" finds Policía). Operators people might type (`"`, `*`,
`-`, NEAR, OR) are only punctuation or words here: the query is rebuilt from its words, so no
input can be a syntax error in either database.
"""

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select, text
from sqlmodel import col

from vigil.db.tables import IncidentRow, IncidentSearchRow

_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 12  # more words than this narrow nothing a person needs; each one costs a lookup
MAX_WORD_LENGTH = 64
MAX_DOCUMENT_CHARS = 200_000  # the first words of an incident's text: title, description, ... notes


def words(value: str) -> list[str]:
    """The words of a text as the index holds them: lower case, without accents."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(plain)


def _texts(state: dict[str, Any]) -> Iterable[str]:
    intake = state.get("intake") or {}
    yield intake.get("title") or ""
    yield intake.get("description") or ""
    yield intake.get("external_ref") or ""
    yield from ((c or {}).get("url") or "" for c in intake.get("content") or [])
    yield from ((n or {}).get("text") or "" for n in state.get("notes") or [])
    yield from ((p or {}).get("target") or "" for p in state.get("proposals") or [])


def document(state: dict[str, Any]) -> str:
    """The searchable words of an incident, from its state as stored (the projection's JSON):
    each once, at most MAX_WORD_LENGTH letters (a query's words are cut the same, and match as
    prefixes), and at most MAX_DOCUMENT_CHARS in all. Search matches words, never phrases, so
    nothing is lost by the first two; the bound keeps PostgreSQL's tsvector under its 1 MB,
    past which the projection's write, and so the incident's projection, would fail for good."""
    unique = dict.fromkeys(word[:MAX_WORD_LENGTH] for value in _texts(state) for word in words(value))
    kept, size = [], 0
    for word in unique:
        size += len(word) + 1
        if size > MAX_DOCUMENT_CHARS:
            break
        kept.append(word)
    return " ".join(kept)


def search_row(incident_id: str, seq: int, state: dict[str, Any]) -> dict[str, Any]:
    return {"incident_id": incident_id, "seq": seq, "document": document(state)}


def _query_words(query: str) -> list[str]:
    return list(dict.fromkeys(w[:MAX_WORD_LENGTH] for w in words(query)))[:MAX_QUERY_WORDS]


def matching(query: str, dialect: str) -> ColumnElement[bool] | None:
    """Incidents holding every word of `query` (or a word starting with it); None if it has no words."""
    found = _query_words(query)
    if not found:
        return None
    searched = select(col(IncidentSearchRow.incident_id))
    if dialect == "postgresql":
        terms = " & ".join(f"{w}:*" for w in found)  # letters and digits only: nothing to escape
        searched = searched.where(text("incident_search.terms @@ to_tsquery('simple', :terms)").bindparams(terms=terms))
    else:
        terms = " ".join(f'"{w}"*' for w in found)
        hits = text("SELECT rowid FROM incident_search_fts WHERE incident_search_fts MATCH :terms")
        searched = searched.where(col(IncidentSearchRow.id).in_(hits.bindparams(terms=terms)))
    return col(IncidentRow.id).in_(searched)
