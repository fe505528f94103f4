"""Dependencies shared by the routes: settings, the running service's state, API-key roles.

Examples
--------
>>> from fastapi import APIRouter
>>> router = APIRouter()
>>> @router.get("/secret", dependencies=[require_role("admin")])
... def read_secret() -> dict[str, str]:
...     return {"ok": "yes"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from huaxiang.journal import Journal
from huaxiang.service.keys import ApiKey, KeyStore
from huaxiang.service.settings import ServiceSettings, get_settings

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace


@dataclass
class ServiceState:
    """What the app's lifespan opened: the journal, the keys and (with the updater) the workspace."""

    settings: ServiceSettings
    workspace_dir: Path
    journal: Journal
    keys: KeyStore
    workspace: Workspace | None = None
    updater: Any = None
    accepting: bool = True
    notes: list[str] = field(default_factory=list)
    #: The workspace lock held while the updater writes (``huaxiang build`` is refused meanwhile).
    hold: Any = None


async def get_state(request: Request) -> ServiceState:
    """The state of the running service (set by the lifespan).

    ``async``: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per request for
    an attribute read.
    """
    state: ServiceState | None = getattr(request.app.state, "service", None)
    if state is None:  # a request before the lifespan ran, or after it ended
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is not ready; retry shortly",
                            headers={"Retry-After": "1"})
    return state


async def get_workspace(state: Annotated[ServiceState, Depends(get_state)]) -> Workspace:
    """The workspace the updater writes (503 in a collector-only process)."""
    if state.workspace is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "this process only collects events (run_updater is off); ask the service that "
                            "runs the updater")
    return state.workspace


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
StateDep = Annotated[ServiceState, Depends(get_state)]
WorkspaceDep = Annotated["Workspace", Depends(get_workspace)]

_bearer = HTTPBearer(auto_error=False, description="An API key from `huaxiang keys create`.")


def require_role(role: str) -> Any:
    """A dependency that admits a ``Bearer`` key whose role grants ``role`` (401 without, 403 if short).

    Use as ``dependencies=[require_role("admin")]`` or as a parameter
    ``key: Annotated[ApiKey, require_role("admin")]``.
    """

    def check_key(state: StateDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
        key = state.keys.verify(credentials.credentials if credentials else None)
        if key is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                "missing or unknown API key; send `Authorization: Bearer <key>` with a key from "
                                "`huaxiang keys create`", headers={"WWW-Authenticate": "Bearer"})
        if not key.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"key {key.name!r} has role {key.role!r}; this needs role {role!r}")
        return key

    return Depends(check_key)


AdminKey = Annotated[ApiKey, require_role("admin")]
