"""Malformed actions never validate, so they never reach `apply`."""

import pytest
from pydantic import ValidationError

from vigil.workflows.actions import ACTION_ADAPTER, AddNote


def test_blank_note_is_malformed() -> None:
    with pytest.raises(ValidationError):
        AddNote(text="   ")


def test_unknown_team_is_malformed() -> None:
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python({"type": "escalate", "team": "marketing", "reason": "x"})


def test_unknown_action_type_is_malformed() -> None:
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python({"type": "delete_incident"})


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "del\x7f"])
def test_free_text_with_control_characters_is_malformed(text: str) -> None:
    with pytest.raises(ValidationError, match="control character"):
        AddNote(text=text)


def test_free_text_keeps_newlines_and_tabs() -> None:
    assert AddNote(text="line one\n\tline two").text == "line one\n\tline two"
