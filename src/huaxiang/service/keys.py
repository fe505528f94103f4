"""API keys of a workspace: created by ``huaxiang keys create``, stored hashed, checked per request.

A key is 32 random bytes (URL-safe text, prefixed ``hx_``); the workspace
keeps only its SHA-256. A fast hash is enough because the key is random and
long, not a password a person chose (nothing to brute-force from a
dictionary). Roles: ``collector`` may send events; ``admin`` may also read
profiles.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = KeyStore(Path(tmp))
...     key = store.create("collector", name="web")
...     print(store.verify(key).role, store.verify("hx_wrong"))
collector None
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from huaxiang.errors import HuaxiangError

Role = Literal["collector", "admin"]
ROLES: tuple[Role, ...] = ("collector", "admin")
KEYS_FILE = "service_keys.json"
#: What each role may do: an admin key may also do everything a collector key may.
_GRANTS: dict[str, frozenset[str]] = {"collector": frozenset({"collector"}),
                                      "admin": frozenset({"collector", "admin"})}


class KeyStoreError(ValueError, HuaxiangError):
    """A key cannot be created (unknown role, unwritable workspace)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its name, role and hash (never the key itself)."""

    id: str
    name: str
    role: str
    sha256: str
    created_at: str

    def allows(self, role: str) -> bool:
        """Whether this key may act as ``role``."""
        return role in _GRANTS.get(self.role, frozenset())


def hash_key(key: str) -> str:
    """The stored form of a key.

    >>> len(hash_key("hx_abc"))
    64
    """
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """The keys of the workspace in ``folder`` (``service_keys.json``, mode 0600).

    Keys created while the service runs are picked up: the file is re-read when
    it changed, checked at most once a second.
    """

    def __init__(self, folder: Path) -> None:
        self.file = Path(folder) / KEYS_FILE
        self._lock = threading.Lock()
        self._by_hash: dict[str, ApiKey] = {}
        self._mtime: float | None = None
        self._checked = 0.0
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = self.file.stat().st_mtime
        except FileNotFoundError:
            self._by_hash, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        data = json.loads(self.file.read_text(encoding="utf-8"))
        self._by_hash = {k["sha256"]: ApiKey(**k) for k in data.get("keys", [])}
        self._mtime = mtime

    def list_keys(self) -> list[ApiKey]:
        """The stored keys (hashes only)."""
        with self._lock:
            self._reload()
            return list(self._by_hash.values())

    def create(self, role: str, *, name: str | None = None) -> str:
        """Store a new key for ``role`` and return it (the only time it is seen in clear)."""
        if role not in ROLES:
            raise KeyStoreError(f"role {role!r} is not known; use one of {', '.join(ROLES)}")
        key = "hx_" + secrets.token_urlsafe(32)
        record = ApiKey(id=secrets.token_hex(4), name=name or f"{role}-key", role=role, sha256=hash_key(key),
                        created_at=datetime.now(UTC).isoformat(timespec="seconds"))
        with self._lock:
            self._reload()
            records = [*self._by_hash.values(), record]
            tmp = self.file.with_suffix(".tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump({"keys": [asdict(r) for r in records]}, out, indent=2)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.file)
            except OSError as exc:
                raise KeyStoreError(f"{self.file}: cannot store the key ({exc}); check the workspace is writable") from exc
            self._mtime = None
            self._reload()
        return key

    def verify(self, key: str | None) -> ApiKey | None:
        """The stored key matching ``key``, or None."""
        if not key:
            return None
        now = time.monotonic()
        with self._lock:
            if now - self._checked > 1.0:
                self._checked = now
                self._reload()
            return self._by_hash.get(hash_key(key))
