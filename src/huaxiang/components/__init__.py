"""Workspace components: one per capability, reached as attributes of :class:`~huaxiang.workspace.Workspace`.

In the manner of Splink's ``linker.training`` / ``linker.clustering``: ``ws.identity``,
``ws.profiles``, ``ws.tags``, ``ws.segments``, ``ws.models`` and ``ws.funnel()``. They return
pandas frames or pydantic models — never anything a face prints — and are what the CLI, the HTTP
service and the dashboard call.

>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> type(ws.tags).__name__, type(ws.profiles).__name__
('TagsComponent', 'ProfilesComponent')
>>> ws.close()
"""

from __future__ import annotations

from huaxiang.components.funnel import population_funnel_frame
from huaxiang.components.identity import IdentityComponent, IdentityExplanation
from huaxiang.components.models import ModelsComponent
from huaxiang.components.segments import SegmentsComponent
from huaxiang.components.tags import TagsComponent

__all__ = [
    "IdentityComponent",
    "IdentityExplanation",
    "ModelsComponent",
    "SegmentsComponent",
    "TagsComponent",
    "population_funnel_frame",
]
