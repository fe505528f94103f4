"""The live path: Segment messages from the journal into the warehouse, and the touched persons refreshed.

- :mod:`~huaxiang.realtime.segment`: Segment-spec messages → canonical rows (e-commerce spec v2);
- :mod:`~huaxiang.realtime.writer`: the rows into the canonical tables, exactly once;
- :mod:`~huaxiang.realtime.refresh`: features, tags and tag history of a few persons (also used by
  the identity corrections), and the scheduled refresh of everyone;
- :mod:`~huaxiang.realtime.updater`: :class:`Updater`, the micro-batch loop the service runs.
"""

from __future__ import annotations

from huaxiang.realtime.refresh import PersonRefresher, live_as_of, refresh_everyone, refresh_persons
from huaxiang.realtime.segment import map_messages
from huaxiang.realtime.updater import Updater

__all__ = ["PersonRefresher", "Updater", "live_as_of", "map_messages", "refresh_everyone", "refresh_persons"]
