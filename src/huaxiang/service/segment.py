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
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

MESSAGE_TYPES = ("identify", "track", "page", "screen", "alias", "group")
_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")
_TEXT_FIELDS = ("name", "category")


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
    return ts.isoformat(timespec="milliseconds")[:-6] + "Z"  # isoformat: 2x faster than strftime


def parse_ts(value: Any, field: str) -> datetime:
    """An ISO 8601 timestamp (a naive one is read as UTC); :class:`MessageError` otherwise.

    >>> parse_ts("2026-12-07T08:00:00+08:00", "timestamp").isoformat()
    '2026-12-07T00:00:00+00:00'
    """
    if not isinstance(value, str):
        raise MessageError(field, f"must be an ISO 8601 timestamp string, got {type(value).__name__}")
    try:
        return _parse_iso(value)
    except ValueError:
        raise MessageError(field, f"{value[:40]!r} is not an ISO 8601 timestamp") from None


@lru_cache(maxsize=4096)
def _parse_iso(value: str) -> datetime:
    # cached: a batch's messages share its sentAt, and SDKs often stamp many messages alike
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


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

    Raises :class:`MessageError` naming the first field that is wrong.

    >>> normalize_message({"type": "track", "userId": "u1"}, type_hint=None, batch_sent_at=None,
    ...                   received_at=datetime.now(UTC))
    Traceback (most recent call last):
    ...
    huaxiang.service.segment.MessageError: event: a track call needs a non-empty string 'event'
    """
    if not isinstance(raw, dict):
        raise MessageError("(message)", f"must be a JSON object, got {type(raw).__name__}")
    msg = dict(raw)
    msg.pop("writeKey", None)
    kind = type_hint or msg.get("type")
    if kind not in MESSAGE_TYPES:
        raise MessageError("type", f"{kind!r} is not a message type; use one of {', '.join(MESSAGE_TYPES)}")
    msg["type"] = kind

    for field in ("userId", "anonymousId"):
        value = msg.get(field)
        if value.__class__ is str and value:  # the common case, checked first: this runs per message
            continue
        ident = _identifier(value, field)
        if ident is None:
            msg.pop(field, None)
        else:
            msg[field] = ident
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

    for field in _OBJECT_FIELDS:
        value = msg.get(field)
        if value.__class__ is dict:
            continue
        if value is None:
            msg.pop(field, None)
        elif not isinstance(value, dict):
            raise MessageError(field, f"must be a JSON object, got {type(value).__name__}")
    for field in _TEXT_FIELDS:
        value = msg.get(field)
        if value is not None and value.__class__ is not str and not isinstance(value, str):
            raise MessageError(field, f"must be a string, got {type(value).__name__}")
    context = msg.get("context")
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
    sent_at = msg.get("sentAt", batch_sent_at)
    if sent is not None:
        original = parse_ts(sent, "timestamp")
        msg["originalTimestamp"] = sent
        if sent_at is not None:
            skew = parse_ts(sent_at, "sentAt") - original
            msg["timestamp"] = format_ts(received_at - skew)
            msg["sentAt"] = sent_at
        else:
            msg["timestamp"] = format_ts(original)
    else:
        msg["timestamp"] = received_text or format_ts(received_at)
    msg["receivedAt"] = received_text or format_ts(received_at)
    return msg
