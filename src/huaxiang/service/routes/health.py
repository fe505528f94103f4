"""``GET /healthz``: 200 once the service is ready, 503 while it shuts down."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from huaxiang.service.deps import StateDep

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    """The service's state: journal kind, whether the updater runs, how far it lags."""

    status: str
    journal: str
    updater: bool
    journal_last_seq: int
    journal_committed: int


@router.get("/healthz", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
def read_health(state: StateDep, response: Response) -> HealthPublic:
    """Ready (200) or shutting down (503), with the journal position and the updater's."""
    if not state.accepting:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(
        status="ok" if state.accepting else "stopping",
        journal=type(state.journal).__name__,
        updater=state.updater is not None,
        journal_last_seq=state.journal.last_seq(),
        journal_committed=state.journal.committed(),
    )
