"""Service settings: ``HUAXIANG_*`` environment variables, read by :func:`get_settings` when asked.

Nothing is read at import time. The workspace's ``huaxiang.yaml`` holds the
rest (``journal: {...}``); an environment value wins over it.

Examples
--------
>>> settings = ServiceSettings(workspace="shop", port=9000)
>>> settings.port, settings.max_message_bytes
(9000, 32768)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from huaxiang.journal import JournalSettings


class ServiceSettings(BaseSettings):
    """How ``huaxiang serve`` runs.

    Parameters
    ----------
    workspace
        The workspace folder (``HUAXIANG_WORKSPACE``).
    journal
        Overrides the ``journal:`` section of ``huaxiang.yaml`` (``HUAXIANG_JOURNAL__KIND=nats``).
    run_updater
        Start the real-time updater in this process. A collector-only process
        (several collectors feeding one JetStream stream) sets it false and
        then never opens the warehouse.
    """

    model_config = SettingsConfigDict(env_prefix="HUAXIANG_", env_nested_delimiter="__", extra="ignore")

    workspace: Path = Path(".")
    host: str = "127.0.0.1"
    port: int = 8000
    journal: JournalSettings | None = None
    run_updater: bool = True
    #: Most messages per micro-batch: a batch costs nearly the same for 100 messages or 10,000, so under a
    #: backlog big batches keep up; at a steady rate the updater takes what arrived during the last one.
    updater_batch_size: int = 10_000
    updater_interval: float = 0.05
    #: Seconds between recomputing segments and scores of the persons events touched (and when idle).
    updater_models_every: float = 60.0
    #: The interpreter's GIL switch interval in a process that runs the updater (seconds).
    switch_interval: float = 0.0005
    max_message_bytes: int = 32 * 1024
    max_batch_bytes: int = 500 * 1024
    #: Seconds a shutdown waits for the updater to drain the journal.
    drain_timeout: float = 60.0
    #: Accept requests with no key at all. Only for local trials: refused on a non-loopback host.
    allow_anonymous: bool = False

    @model_validator(mode="after")
    def _no_open_door(self) -> ServiceSettings:
        if self.allow_anonymous and self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                f"allow_anonymous serves writes without a key; refused on host {self.host!r}. "
                "Create a key with `huaxiang keys create` instead"
            )
        return self


@lru_cache
def get_settings() -> ServiceSettings:
    """The settings from the environment, read once (tests override this dependency)."""
    return ServiceSettings()
