"""Segment tracking-API messages: validated and normalised before they enter the journal.

Plain Python on dictionaries (no FastAPI here), so the collector's hot path
is one pass per message. What a stored message looks like:

- ``type`` one of identify, track, page, screen, alias, group (single-call
  endpoints set it from the path);
- ``userId`` / ``anonymousId`` as strings (numbers are turned into text; a
  ``null`` one is dropped; at least one is required, alias needs ``userId``
  and ``previousId``);
- ``traits`` merged from ``context.traits`` and ``traits`` (the top level
  wins), since clients put them in either place;
- ``timestamp`` corrected for the device's clock skew as Segment documents
  it: ``timestamp = receivedAt - (sentAt - originalTimestamp)`` when the
  client sent ``sentAt`` (per message, else per batch); otherwise the sent
  ``timestamp``, else ``receivedAt``. The client's value stays in
  ``originalTimestamp``;
- ``receivedAt`` the server's clock; ``messageId`` the client's, or a new one;
- ``writeKey`` removed (never stored).

Examples
--------
>>> from datetime import datetime, UTC
>>> received = datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)
>>> m = normalize_message({"type": "track", "event": "Order Completed", "userId": 42,
...                        "timestamp": "2026-12-07T12:00:00Z"},
...                       type_hint=None, batch_sent_at="2026-12-07T12:00:05Z", received_at=received)
>>> m["userId"], m["timestamp"], m["originalTimestamp"]
('42', '2026-12-07T12:00:05.000Z', '2026-12-07T12:00:00Z')
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MESSAGE_TYPES = ("identify", "track", "page", "screen", "alias", "group")


class MessageError(ValueError):
    """A message breaks the tracking API; ``field`` names the offending field."""

    def __init__(self, field: str, error: str) -> None:
        super().__init__(f"{field}: {error}")
        self.field = field
        self.error = error


def format_ts(ts: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Segment writes timestamps.

    >>> format_ts(datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC))
    '2026-01-02T03:04:05.678Z'
    """
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    # orjson's RFC 3339 form cut to milliseconds: runs per message, and isoformat(timespec=...) costs
    # several times more (bench/README.md)
    text = orjson.dumps(ts, option=orjson.OPT_UTC_Z).decode()
    return text[1:24] + "Z" if ts.microsecond else text[1:20] + ".000Z"


def parse_ts(value: Any, field: str) -> datetime:
    """An ISO 8601 timestamp in UTC (a naive one is read as UTC); :class:`MessageError` otherwise.

    >>> parse_ts("2026-12-07T08:00:00+08:00", "timestamp").isoformat()
    '2026-12-07T00:00:00+00:00'
    """
    ts = _parse_aware(value, field)
    if ts.tzinfo is UTC:
        return ts
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise MessageError(field, f"{value[:40]!r} is out of range in UTC") from None


def _parse_aware(value: Any, field: str) -> datetime:
    """An ISO 8601 timestamp in its own offset (a naive one is read as UTC)."""
    if value.__class__ is not str and not isinstance(value, str):
        raise MessageError(field, f"must be an ISO 8601 timestamp string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise MessageError(field, f"{value[:40]!r} is not an ISO 8601 timestamp") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _identifier(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MessageError(field, "must be a string or a number, got a boolean")
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise MessageError(field, f"must be a string or a number, got {type(value).__name__}")


def normalize_message(raw: Any, *, type_hint: str | None, batch_sent_at: Any, received_at: datetime,
                      received_text: str | None = None) -> dict[str, Any]:
    """Validate one message and return the form the journal stores (see the module notes).

    Raises :class:`MessageError` naming the first field that is wrong. For the
    messages of one request, :class:`Normalizer` does the same with the
    request's values read once.

    >>> normalize_message({"type": "track", "userId": "u1"}, type_hint=None, batch_sent_at=None,
    ...                   received_at=datetime.now(UTC))
    Traceback (most recent call last):
    ...
    huaxiang.service.segment.MessageError: event: a track call needs a non-empty string 'event'
    """
    return Normalizer(type_hint=type_hint, batch_sent_at=batch_sent_at, received_at=received_at,
                      received_text=received_text)(raw)


class Normalizer:
    """:func:`normalize_message` for the messages of one request (same type hint, batch ``sentAt``, clock).

    A ``(timestamp, sentAt)`` pair seen before in the request is corrected once:
    SDKs stamp a batch's messages with one ``sentAt`` and often equal timestamps.

    >>> received = datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)
    >>> normalize = Normalizer(type_hint="track", batch_sent_at=None, received_at=received)
    >>> [normalize({"event": "A", "anonymousId": 7, "timestamp": "2026-12-07T20:00:00+08:00"})["timestamp"]
    ...  for _ in range(2)]
    ['2026-12-07T12:00:00.000Z', '2026-12-07T12:00:00.000Z']
    """

    __slots__ = ("_corrected", "_offsets", "batch_sent_at", "received_at", "received_text", "type_hint")

    def __init__(self, *, type_hint: str | None, batch_sent_at: Any, received_at: datetime,
                 received_text: str | None = None) -> None:
        self.type_hint = type_hint
        self.batch_sent_at = batch_sent_at
        self.received_at = received_at
        self.received_text = received_text or format_ts(received_at)
        self._corrected: dict[tuple[str, str | None], str] = {}
        self._offsets: dict[str, timedelta] = {}

    def __call__(self, raw: Any) -> dict[str, Any]:
        # Runs per message: fields are checked one by one, the common case (a non-empty string, an object)
        # first, and the rarer ones handed to helpers.
        if not isinstance(raw, dict):
            raise MessageError("(message)", f"must be a JSON object, got {type(raw).__name__}")
        msg = dict(raw)
        msg.pop("writeKey", None)
        kind = self.type_hint or msg.get("type")
        if kind not in MESSAGE_TYPES:
            raise MessageError("type", f"{kind!r} is not a message type; use one of {', '.join(MESSAGE_TYPES)}")
        msg["type"] = kind

        value = msg.get("userId")
        if value is None:
            msg.pop("userId", None)
        elif value.__class__ is not str or not value:
            _set_identifier(msg, "userId", value)
        value = msg.get("anonymousId")
        if value is None:
            msg.pop("anonymousId", None)
        elif value.__class__ is not str or not value:
            _set_identifier(msg, "anonymousId", value)
        if kind == "alias":
            previous = _identifier(msg.get("previousId"), "previousId")
            if previous is None:
                raise MessageError("previousId", "an alias call needs 'previousId' (the identity being merged)")
            msg["previousId"] = previous
            if "userId" not in msg:
                raise MessageError("userId", "an alias call needs 'userId' (the identity kept)")
        elif "userId" not in msg and "anonymousId" not in msg:
            raise MessageError("userId", "give 'userId' or 'anonymousId' (at least one, not null)")
        if kind == "track":
            event = msg.get("event")
            if not isinstance(event, str) or not event.strip():
                raise MessageError("event", "a track call needs a non-empty string 'event'")
        elif kind == "group":
            group_id = _identifier(msg.get("groupId"), "groupId")
            if group_id is None:
                raise MessageError("groupId", "a group call needs 'groupId'")
            msg["groupId"] = group_id

        value = msg.get("properties")
        if value is None:
            msg.pop("properties", None)
        elif value.__class__ is not dict:
            _check_object(msg, "properties", value)
        value = msg.get("traits")
        if value is None:
            msg.pop("traits", None)
        elif value.__class__ is not dict:
            _check_object(msg, "traits", value)
        context = msg.get("context")
        if context.__class__ is not dict:
            _check_object(msg, "context", context)
            context = msg.get("context")
        value = msg.get("integrations")
        if value is None:
            msg.pop("integrations", None)
        elif value.__class__ is not dict:
            _check_object(msg, "integrations", value)
        value = msg.get("name")
        if value is not None and not isinstance(value, str):
            raise MessageError("name", f"must be a string, got {type(value).__name__}")
        value = msg.get("category")
        if value is not None and not isinstance(value, str):
            raise MessageError("category", f"must be a string, got {type(value).__name__}")
        if context is not None and context.get("traits") is not None:
            context_traits = context["traits"]
            if not isinstance(context_traits, dict):
                raise MessageError("context.traits", f"must be a JSON object, got {type(context_traits).__name__}")
            msg["traits"] = {**context_traits, **msg.get("traits", {})}

        message_id = msg.get("messageId")
        if message_id.__class__ is not str or not message_id:
            message_id = _identifier(message_id, "messageId")
            msg["messageId"] = message_id if message_id is not None else f"hx-{uuid.uuid4()}"

        sent = msg.get("timestamp", msg.get("originalTimestamp"))
        if sent is None:
            msg["timestamp"] = self.received_text
        else:
            sent_at = msg.get("sentAt", self.batch_sent_at)
            if sent.__class__ is str and (sent_at is None or sent_at.__class__ is str):
                key = (sent, sent_at)
                corrected = self._corrected.get(key)
                if corrected is None:
                    corrected = self._corrected[key] = self._correct(sent, sent_at)
            else:  # not text: _correct names the field
                corrected = self._correct(sent, sent_at)
            msg["originalTimestamp"] = sent
            msg["timestamp"] = corrected
            if sent_at is not None:
                msg["sentAt"] = sent_at
        msg["receivedAt"] = self.received_text
        return msg

    def _correct(self, sent: Any, sent_at: Any) -> str:
        """The stored ``timestamp``: corrected for the device's clock skew when ``sent_at`` is known.

        ``received - (sent_at - sent)`` is computed as ``sent + (received - sent_at)`` (exact: whole
        microseconds), the bracket once per ``sent_at`` of the request.
        """
        original = _parse_aware(sent, "timestamp")
        try:
            if sent_at is None:
                return format_ts(original)
            offset = self._offsets.get(sent_at) if sent_at.__class__ is str else None
            if offset is None:
                offset = self.received_at - _parse_aware(sent_at, "sentAt")
                if sent_at.__class__ is str:
                    self._offsets[sent_at] = offset
            return format_ts(original + offset)
        except OverflowError:
            raise MessageError("timestamp", f"{str(sent)[:40]!r} is out of range (after the sentAt correction: "
                                            f"{str(sent_at)[:40]!r})") from None


def _set_identifier(msg: dict[str, Any], field: str, value: Any) -> None:
    ident = _identifier(value, field)
    if ident is None:
        msg.pop(field, None)
    else:
        msg[field] = ident


def _check_object(msg: dict[str, Any], field: str, value: Any) -> None:
    if value is None:
        msg.pop(field, None)
    elif not isinstance(value, dict):
        raise MessageError(field, f"must be a JSON object, got {type(value).__name__}")
