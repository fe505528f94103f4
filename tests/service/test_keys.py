"""API keys: stored hashed, roles enforced, created by the CLI with the key alone on the last line."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from huaxiang.service.deps import AdminKey  # module level: FastAPI resolves the annotation from globals
from huaxiang.service.keys import KEYS_FILE, KeyStore, KeyStoreError, hash_key


def test_key_is_stored_hashed_only(workspace_dir: Path) -> None:
    store = KeyStore(workspace_dir)
    key = store.create("admin", name="ops")
    text = (workspace_dir / KEYS_FILE).read_text()
    assert key not in text
    assert json.loads(text)["keys"][0]["sha256"] == hash_key(key)
    assert stat.S_IMODE((workspace_dir / KEYS_FILE).stat().st_mode) == 0o600
    assert store.verify(key) is not None and store.verify(key + "x") is None and store.verify(None) is None


def test_roles(workspace_dir: Path) -> None:
    store = KeyStore(workspace_dir)
    collector, admin = store.create("collector"), store.create("admin")
    c, a = store.verify(collector), store.verify(admin)
    assert c is not None and a is not None
    assert (c.allows("collector"), c.allows("admin")) == (True, False)
    assert (a.allows("collector"), a.allows("admin")) == (True, True)
    with pytest.raises(KeyStoreError, match="role 'root' is not known"):
        store.create("root")


def test_a_key_created_while_serving_is_picked_up(client: Any, workspace_dir: Path) -> None:
    import time

    late = KeyStore(workspace_dir).create("collector", name="late")
    time.sleep(1.1)  # the service re-reads the key file at most once a second
    answer = client.post("/v1/track", json={"userId": "u", "event": "E"}, auth=(late, ""))
    assert answer.status_code == 200


def test_cli_keys_create_prints_the_key_last(workspace_dir: Path) -> None:
    from huaxiang.service.cli import register

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["keys", "create", "-w", str(workspace_dir), "--role", "admin", "--name", "n1"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    found = KeyStore(workspace_dir).verify(key)
    assert found is not None and (found.role, found.name) == ("admin", "n1")
    listed = CliRunner().invoke(app, ["keys", "list", "-w", str(workspace_dir)])
    assert "admin" in listed.output and key not in listed.output
    bad = CliRunner().invoke(app, ["keys", "create", "-w", str(workspace_dir), "--role", "boss"])
    assert bad.exit_code == 1 and "role 'boss' is not known" in bad.output


def test_require_role_admin(workspace_dir: Path, collector_key: str, admin_key: str) -> None:
    from fastapi.testclient import TestClient

    from huaxiang.service.app import create_app
    from huaxiang.service.settings import ServiceSettings

    app = create_app(ServiceSettings(workspace=workspace_dir, run_updater=False))

    @app.get("/secret")
    def read_secret(key: AdminKey) -> dict[str, str]:
        return {"name": key.name}

    with TestClient(app) as client:
        assert client.get("/secret").status_code == 401
        assert client.get("/secret", headers={"Authorization": "Bearer hx_nope"}).status_code == 401
        short = client.get("/secret", headers={"Authorization": f"Bearer {collector_key}"})
        assert short.status_code == 403 and "needs role 'admin'" in short.json()["detail"]
        ok = client.get("/secret", headers={"Authorization": f"Bearer {admin_key}"})
        assert ok.status_code == 200 and ok.json() == {"name": "ops"}
