"""Finding every payload in a history's JSON (Temporal's protobuf JSON: bytes are base64)."""

import base64
import json
from collections.abc import Iterator
from typing import Any


def payloads_in(node: Any) -> Iterator[tuple[dict[str, bytes], bytes]]:
    """(metadata, data) of every Payload anywhere in the JSON, decoded from base64."""
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "encoding" in metadata:
            yield ({k: base64.b64decode(v) for k, v in metadata.items()}, base64.b64decode(node.get("data", "")))
        for value in node.values():
            yield from payloads_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from payloads_in(value)


def outside_the_codec(metadata: dict[str, bytes], data: bytes) -> bool:
    """Payloads Temporal writes itself, never through a codec, and that hold no incident data:
    search attributes (indexed in plain), and `workflow.patched` markers (the patch's name)."""
    if metadata.get("type") in (b"Keyword", b"KeywordList"):
        return True
    try:
        return set(json.loads(data)) == {"id", "deprecated"}
    except (ValueError, TypeError):
        return False
