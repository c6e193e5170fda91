"""The remote codec endpoint: Temporal's own tools decode Vigil's encrypted payloads through it.

`temporal workflow show --codec-endpoint http://vigil:8000/codec --codec-auth "Bearer <token>"`
and the Temporal Web UI (its "codec server" setting) send `POST /codec/decode` with
`{"payloads": [{"metadata": {...}, "data": "..."}]}` (protobuf JSON: base64 bytes) and show what
comes back. A payload holds the whole intake, reporter included, so only those who see reporters
(vigil.need_to_know.PAYLOAD_READERS: auditors and leads) may decode (or encode); everyone else,
admins included, sees ciphertext.

The Web UI calls from its own origin, so these two routes (and only these) answer CORS for
`VIGIL_TEMPORAL_UI_ORIGIN`, allowing the Authorization header and credentials.
"""

import base64
import binascii
from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from vigil.api.deps import allow
from vigil.api.errors import forbidden, invalid, responses
from vigil.auth import Principal
from vigil.config import settings
from vigil.need_to_know import PAYLOAD_READERS
from vigil.temporal import codec as configured_codec
from vigil.temporal.codec import EncryptionCodec, KeyError_

PREFIX = "/codec"
MAX_PAYLOADS = 1000

router = APIRouter(prefix=PREFIX, tags=["codec"])


class PayloadJson(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict, description="Each value base64")
    data: str = Field("", description="base64")


class Payloads(BaseModel):
    payloads: Annotated[list[PayloadJson], Field(max_length=MAX_PAYLOADS)] = []


def _b64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{where}: not valid base64") from None


def _from_json(body: Payloads) -> list[Payload]:
    return [
        Payload(
            metadata={k: _b64(v, f"payloads.{i}.metadata.{k}") for k, v in p.metadata.items()},
            data=_b64(p.data, f"payloads.{i}.data"),
        )
        for i, p in enumerate(body.payloads)
    ]


def _to_json(payloads: list[Payload]) -> Payloads:
    return Payloads(
        payloads=[
            PayloadJson(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


def _codec(request: Request, namespace: str | None) -> EncryptionCodec:
    """The codec of the API's Temporal client (the workers' keys), for the namespace it serves."""
    client = request.app.state.temporal
    served = client.namespace if client is not None else settings().temporal_namespace
    if namespace and namespace != served:
        raise forbidden(f"this codec serves namespace {served!r}, not {namespace!r}")
    codec = client.data_converter.payload_codec if client is not None else None
    return codec if isinstance(codec, EncryptionCodec) else configured_codec()


@router.post(
    "/decode", response_model=Payloads, summary="Decrypt payloads (remote codec protocol)", responses=responses(403)
)
async def decode(
    body: Payloads,
    request: Request,
    user: Principal = Depends(allow(PAYLOAD_READERS, "decode payloads")),
    x_namespace: Annotated[str | None, Header()] = None,
) -> Payloads:
    """Payloads Vigil did not encrypt come back unchanged."""
    codec = _codec(request, x_namespace)
    decoded = []
    for index, payload in enumerate(_from_json(body)):
        try:
            decoded.append(codec.decrypt(payload))
        except KeyError_ as error:
            raise invalid(f"payloads.{index}: {error}") from None
        except (InvalidTag, ValueError):
            raise invalid(f"payloads.{index}: cannot be decrypted (altered, or not Vigil's)") from None
    return _to_json(decoded)


@router.post(
    "/encode", response_model=Payloads, summary="Encrypt payloads (remote codec protocol)", responses=responses(403)
)
async def encode(
    body: Payloads,
    request: Request,
    user: Principal = Depends(allow(PAYLOAD_READERS, "encode payloads")),
    x_namespace: Annotated[str | None, Header()] = None,
) -> Payloads:
    """With the active key (the first in the ring), as the workers would."""
    codec = _codec(request, x_namespace)
    return _to_json([codec.encrypt(p) for p in _from_json(body)])


class CodecCors:
    """CORS for the codec routes only: the Temporal Web UI's origin may call them with a token."""

    def __init__(self, app: ASGIApp, origin: str):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=[origin] if origin else [],
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
