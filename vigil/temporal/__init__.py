"""How every Vigil process connects to Temporal: one data converter (pydantic + encryption),
the search attributes incidents carry, and the client itself."""

import dataclasses
from functools import cache

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode

from vigil.config import Settings, settings
from vigil.temporal.codec import EncryptionCodec, VigilPayloadConverter, load_or_create_keys
from vigil.temporal.signing import Signer

SEVERITY = SearchAttributeKey.for_keyword("Severity")
INCIDENT_STATUS = SearchAttributeKey.for_keyword("IncidentStatus")
CATEGORY = SearchAttributeKey.for_keyword("Category")
REGION = SearchAttributeKey.for_keyword("Region")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
HISTORY_DIGEST = SearchAttributeKey.for_keyword("HistoryDigest")
SEARCH_ATTRIBUTES = [SEVERITY, INCIDENT_STATUS, CATEGORY, REGION, CHANNEL, HISTORY_DIGEST]
# The dev server marks a workflow whose tasks failed twice in a row with the TemporalReportedProblems
# search attribute, which the watchdog looks for (vigil.audit.watchdog). On a cluster, set the same
# dynamic config key on the server.
DEV_SERVER_ARGS = ["--dynamic-config-value", "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2"]


@cache
def codec(config: Settings | None = None) -> EncryptionCodec:
    config = config or settings()
    return EncryptionCodec(load_or_create_keys(config.encryption_keys_env, config.keys_file))


def data_converter(payload_codec: EncryptionCodec | None = None) -> DataConverter:
    """Client, worker and Replayer must all use this converter. Failure messages and stack
    traces are encoded too, so a refusal's words are as unreadable in storage as the payloads."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=VigilPayloadConverter,
        payload_codec=payload_codec or codec(),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def signer_of(client: Client) -> Signer:
    """Signs actions with the active key of the client's codec (vigil/temporal/signing.py)."""
    payload_codec = client.data_converter.payload_codec
    return payload_codec.signer if isinstance(payload_codec, EncryptionCodec) else codec().signer


class TemporalUnreachable(Exception):
    """No Temporal server answered at the configured address."""


async def connect(config: Settings | None = None, address: str | None = None) -> Client:
    config = config or settings()
    address = address or config.temporal_address
    tls: TLSConfig | bool = False
    if config.temporal_tls_cert:
        with open(config.temporal_tls_cert, "rb") as cert, open(config.temporal_tls_key, "rb") as key:
            tls = TLSConfig(client_cert=cert.read(), client_private_key=key.read())
    elif config.temporal_tls or config.temporal_api_key:
        tls = True
    try:
        return await Client.connect(
            address,
            namespace=config.temporal_namespace,
            api_key=config.temporal_api_key or None,
            tls=tls,
            data_converter=data_converter(codec(config)),
        )
    except RuntimeError as error:  # how the SDK reports a connection it could not make
        raise TemporalUnreachable(f"cannot reach Temporal at {address}") from error


async def register_search_attributes(client: Client) -> None:
    """Idempotent: registers the ones the namespace lacks (dev server, test server, cluster)."""
    wanted = {k.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for k in SEARCH_ATTRIBUTES}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
        wanted = {name: kind for name, kind in wanted.items() if name not in known}
    except RPCError as error:  # the time-skipping test server cannot list, only add
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
    if not wanted:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=wanted)
        )
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:
            raise
