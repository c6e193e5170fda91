"""How the `vigil` commands that act through the API call it: options, errors, one request.

Commands that act on incidents or read audit records talk to the API at $VIGIL_API with the
token in $VIGIL_TOKEN, so they obey the same roles and rules as every other client.
"""

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)

DEFAULT_API = "http://127.0.0.1:8000"
ApiOption = Annotated[str, typer.Option("--api", envvar="VIGIL_API", help="Vigil API base URL")]
TokenOption = Annotated[
    str, typer.Option("--token", envvar="VIGIL_TOKEN", help="Your bearer token", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--output-json", help="Print the API's JSON")]
# Replays and exports of many histories take minutes; the API bounds everything else itself.
TIMEOUT_SECONDS = 300


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print the error and return the exit to raise: `raise fail("...") from None`."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


class ApiFailed(Exception):
    """The API answered with an error status; the message is its one-line form."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def api_error_message(response: httpx.Response) -> str:
    """An error answer of the API in one line, as the CLI prints it ('409 conflict: ...')."""
    try:
        body = response.json()
        return f"{response.status_code} {body.get('error')}: {body.get('detail')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"


def headers(token: str, language: str | None = None) -> dict[str, str]:
    if not token:
        raise fail("no token: set VIGIL_TOKEN or pass --token (vigil users enrol SECRET prints yours)")
    sent = {"Authorization": f"Bearer {token}"}
    if language:
        sent["Accept-Language"] = language
    return sent


def answer(response: httpx.Response) -> Any:
    """The JSON of a successful answer; ApiFailed for an error status."""
    if response.status_code >= 400:
        raise ApiFailed(response.status_code, api_error_message(response))
    return response.json()


def call(method: str, path: str, api_url: str, token: str, language: str | None = None, **kwargs: Any) -> Any:
    """One request to the API; any failure ends the command with the API's own words."""
    sent = headers(token, language)
    try:
        response = httpx.request(method, api_url.rstrip("/") + path, headers=sent, timeout=TIMEOUT_SECONDS, **kwargs)
    except httpx.HTTPError as error:
        raise fail(f"cannot reach the API at {api_url}: {error}") from None
    try:
        return answer(response)
    except ApiFailed as failed:
        raise fail(str(failed)) from None
