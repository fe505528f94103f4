"""The collector: Segment's HTTP tracking API (``/v1/batch``, ``/v1/track``, ...), durable before the 200.

SDKs send unchanged: the write key as the HTTP Basic user name (empty
password), as ``Authorization: Bearer``, or as ``writeKey`` in the body;
gzip bodies with ``Content-Encoding: gzip``. Each message is validated and
normalised (:mod:`huaxiang.service.segment`); the valid ones are appended to
the journal and the answer goes back after the journal has them on disk.
A message that fails is named in a 400 (or 413 when too large) by index and
field, and the rest of the batch is stored all the same: the answer lists
the ``messageId``s accepted, those already stored before (duplicates: a
retry), and the rejected ones.

The body must be strict UTF-8 JSON (orjson parses it; a leading byte-order mark is
skipped): ``NaN``/``Infinity`` and lone surrogate escapes are refused with the
body (400), and integers beyond 64 bits are read as floats, as JavaScript
senders have them anyway.

Limits as Segment's: 32 KB per message (measured as stored, less
:data:`SERVER_FIELDS_ALLOWANCE` bytes for the fields the server adds),
500 KB per request body after decompression.

The request body is read and parsed by hand rather than through a pydantic
body parameter: one pass over the messages on the hot path, and a bad
message must not fail the whole batch. The documented schema
(:class:`BatchIn`) is the same one the hand parser enforces.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import zlib
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from huaxiang.journal import JournalError
from huaxiang.journal.base import encode_message
from huaxiang.service.deps import ServiceState, StateDep
from huaxiang.service.segment import MESSAGE_TYPES, MessageError, Normalizer

router = APIRouter(prefix="/v1", tags=["collect"])

#: Bytes the server adds to a message (receivedAt, originalTimestamp, a messageId) not counted in its 32 KB.
SERVER_FIELDS_ALLOWANCE = 256


# ------------------------------------------------------------------ schemas (documentation + answers)
class MessageIn(BaseModel):
    """One Segment message. Other fields are kept as sent."""

    model_config = ConfigDict(extra="allow")

    type: Literal["identify", "track", "page", "screen", "alias", "group"] | None = Field(
        None, description="Required in a batch; set by the path on the single-call endpoints.")
    messageId: str | None = Field(None, description="Unique per message; a repeat is acknowledged, stored once.")
    userId: str | int | None = None
    anonymousId: str | int | None = None
    event: str | None = Field(None, description="The action (track calls), e.g. 'Order Completed'.")
    name: str | None = Field(None, description="Page or screen name.")
    category: str | None = None
    previousId: str | int | None = Field(None, description="alias: the identity merged into userId.")
    groupId: str | int | None = Field(None, description="group: the account or organisation.")
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = Field(None, description="Also read from context.traits.")
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    timestamp: datetime | None = Field(None, description="When it happened on the device (ISO 8601).")
    sentAt: datetime | None = Field(None, description="When the device sent it: used for clock-skew correction.")
    writeKey: str | None = None


class BatchIn(BaseModel):
    """The body of ``POST /v1/batch``."""

    batch: list[MessageIn]
    sentAt: datetime | None = None
    writeKey: str | None = None
    context: dict[str, Any] | None = None


class RejectedPublic(BaseModel):
    """A message that was not stored, and why."""

    index: int = Field(description="Position in the batch (0 for a single call).")
    messageId: str | None
    field: str
    error: str


class CollectPublic(BaseModel):
    """The answer to every collect call: what is stored, what was a repeat, what was refused."""

    success: bool
    message: str
    accepted: list[str] = Field(description="messageIds stored now (durable).")
    duplicates: list[str] = Field(description="messageIds stored before; acknowledged, not stored again.")
    rejected: list[RejectedPublic]


class ErrorPublic(BaseModel):
    """A request refused as a whole (no key, unreadable body, too large, shutting down)."""

    success: bool = False
    message: str


#: Models the hand-parsed bodies refer to; the app adds them to the OpenAPI components.
DOC_MODELS: tuple[type[BaseModel], ...] = (BatchIn, MessageIn)


class _Refused(Exception):
    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


def _answer(content: dict[str, Any], status_code: int, headers: dict[str, str] | None = None) -> Response:
    # orjson: the answer lists every messageId of the batch, and JSONResponse's json.dumps costs more
    return Response(orjson.dumps(content), status_code=status_code, headers=headers, media_type="application/json")


def _refusal(exc: _Refused) -> Response:
    return _answer({"success": False, "message": exc.message}, exc.status_code, exc.headers)


# ------------------------------------------------------------------ reading the request
async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _Refused(status.HTTP_413_CONTENT_TOO_LARGE,
                       f"the body is {int(length):,} bytes; a request holds at most {limit:,} (send smaller batches)")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Refused(status.HTTP_413_CONTENT_TOO_LARGE,
                               f"the body exceeds {limit:,} bytes; send smaller batches")
            chunks.append(chunk)
    except ClientDisconnect:  # the sender gave up mid-body: nothing stored, nobody to answer
        raise _Refused(status.HTTP_400_BAD_REQUEST, "the client disconnected before the body was complete") from None
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise _Refused(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                       f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise _Refused(status.HTTP_400_BAD_REQUEST, f"the body is not valid gzip ({exc})") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise _Refused(status.HTTP_413_CONTENT_TOO_LARGE,
                       f"the body decompresses to more than {limit:,} bytes; send smaller batches")
    if not inflater.eof:
        raise _Refused(status.HTTP_400_BAD_REQUEST, "the gzip body is truncated")
    return data


def _header_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _Refused(status.HTTP_401_UNAUTHORIZED, "the Basic credentials are not valid base64") from None
        return decoded.partition(":")[0]
    if scheme == "bearer":
        return value.strip()
    raise _Refused(status.HTTP_401_UNAUTHORIZED, f"authorization scheme {scheme!r} is not accepted; use Basic or Bearer")


def _check_key(state: ServiceState, key_text: str | None) -> None:
    if state.settings.allow_anonymous and key_text is None:
        return
    key = state.keys.verify(key_text)
    if key is None or not key.allows("collector"):
        what = "no write key was sent" if not key_text else "the write key is not known"
        raise _Refused(status.HTTP_401_UNAUTHORIZED,
                       f"{what}; send a key from `huaxiang keys create --role collector` as the Basic user name "
                       "or as writeKey", headers={"WWW-Authenticate": 'Basic realm="huaxiang"'})


# ------------------------------------------------------------------ the one code path of every endpoint
async def collect(request: Request, state: ServiceState, type_hint: str | None) -> Response:
    """Authenticate, read, validate and journal one request; the answer as described in the module notes."""
    try:
        if not state.accepting:
            raise _Refused(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is shutting down; retry shortly",
                           headers={"Retry-After": "2"})
        settings = state.settings
        header_key = _header_key(request)
        if header_key is not None:
            _check_key(state, header_key)
        raw = await _read_body(request, settings.max_batch_bytes)
        try:
            body = orjson.loads(raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw)
        except orjson.JSONDecodeError as exc:
            raise _Refused(status.HTTP_400_BAD_REQUEST, f"the body is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise _Refused(status.HTTP_400_BAD_REQUEST, "the body must be a JSON object")
        if header_key is None:
            key_text = body.get("writeKey")
            if key_text is None and type_hint is None and isinstance(body.get("batch"), list) and body["batch"]:
                first = body["batch"][0]
                key_text = first.get("writeKey") if isinstance(first, dict) else None
            _check_key(state, key_text if isinstance(key_text, str) else None)
        if type_hint is None:
            messages = body.get("batch")
            if not isinstance(messages, list):
                raise _Refused(status.HTTP_400_BAD_REQUEST, "batch: the body needs a 'batch' list of messages")
            batch_sent_at = body.get("sentAt")
        else:
            messages = [body]
            batch_sent_at = None
    except _Refused as exc:
        return _refusal(exc)

    normalize = Normalizer(type_hint=type_hint, batch_sent_at=batch_sent_at, received_at=datetime.now(UTC))
    limit = settings.max_message_bytes + SERVER_FIELDS_ALLOWANCE
    good: list[dict[str, Any]] = []
    encoded: list[bytes] = []
    rejected: list[dict[str, Any]] = []
    too_large = False
    for index, message in enumerate(messages):
        try:
            normal = normalize(message)
        except MessageError as exc:
            mid = message.get("messageId") if isinstance(message, dict) else None
            rejected.append({"index": index, "messageId": mid if isinstance(mid, str) else None,
                             "field": exc.field, "error": exc.error})
            continue
        data = encode_message(normal)
        if len(data) > limit:
            too_large = True
            rejected.append({"index": index, "messageId": normal["messageId"], "field": "(message)",
                             "error": f"{len(data) - SERVER_FIELDS_ALLOWANCE:,} bytes; a message holds at most "
                                      f"{settings.max_message_bytes:,}"})
            continue
        good.append(normal)
        encoded.append(data)

    accepted: list[str] = []
    duplicates: list[str] = []
    if good:
        try:
            result = await state.journal.append_async(good, encoded=encoded)
        except JournalError as exc:
            return _refusal(_Refused(status.HTTP_503_SERVICE_UNAVAILABLE, f"nothing stored: {exc}",
                                     headers={"Retry-After": "5"}))
        accepted, duplicates = result.accepted, result.duplicates
    stored = len(accepted) + len(duplicates)
    if rejected:
        first = rejected[0]
        text = (f"message {first['index']}: {first['field']}: {first['error']}"
                + (f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else "")
                + f"; {stored} of {len(messages)} messages stored")
        code = status.HTTP_413_CONTENT_TOO_LARGE if too_large and all(
            r["field"] == "(message)" for r in rejected) else status.HTTP_400_BAD_REQUEST
    else:
        text = f"{stored} of {len(messages)} messages stored"
        code = status.HTTP_200_OK
    return _answer({"success": not rejected, "message": text, "accepted": accepted,
                    "duplicates": duplicates, "rejected": rejected}, code)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": CollectPublic, "description": "Some messages (or the body) are invalid; the rest are stored."},
    401: {"model": ErrorPublic, "description": "Missing or unknown write key."},
    413: {"model": CollectPublic, "description": "The body or a message is too large."},
    503: {"model": ErrorPublic, "description": "Shutting down or the journal is unavailable; retry."},
}


def _body_doc(model: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model}"}}}}}


@router.post("/batch", response_model=CollectPublic, responses=_RESPONSES, openapi_extra=_body_doc("BatchIn"))
async def create_batch(request: Request, state: StateDep) -> Response:
    """Store a batch of messages of any type (what the SDKs send)."""
    return await collect(request, state, None)


#: Other paths of the same calls: Segment's ``/v1/import``, and analytics.js, which posts to the type's
#: first letter (``/v1/t``, ``/v1/p``, ...) and, with batching on, to ``/v1/b``.
ALIASES = {"import": None, "b": None, "t": "track", "i": "identify", "p": "page", "s": "screen", "a": "alias",
           "g": "group"}


def _single(kind: str) -> Any:
    async def create_message(request: Request, state: StateDep) -> Response:
        return await collect(request, state, kind)

    create_message.__name__ = f"create_{kind}"
    create_message.__doc__ = f"Store one `{kind}` message (its `type` is set from the path)."
    return create_message


for _kind in MESSAGE_TYPES:
    router.post(f"/{_kind}", response_model=CollectPublic, responses=_RESPONSES, openapi_extra=_body_doc("MessageIn"),
                name=f"create_{_kind}")(_single(_kind))
for _path, _kind_or_batch in ALIASES.items():
    _target = _kind_or_batch or "batch"
    router.post(f"/{_path}", response_model=CollectPublic, responses=_RESPONSES,
                openapi_extra=_body_doc("MessageIn" if _kind_or_batch else "BatchIn"), name=f"create_{_target}_{_path}",
                summary=f"Same as /v1/{_target} (the path {'analytics.js' if _path != 'import' else 'Segment'} uses)",
                )(_single(_kind_or_batch) if _kind_or_batch else create_batch)
