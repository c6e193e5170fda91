"""Reading the API's answers from the client side (the `vigil` CLIs)."""

import httpx


def api_error_message(response: httpx.Response) -> str:
    """An error answer of the API in one line, as the CLI prints it ('409 conflict: ...')."""
    try:
        body = response.json()
        return f"{response.status_code} {body.get('error')}: {body.get('detail')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"
