"""The CLI against a real state directory: tokens, keys, audit verification (also with the server running)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.factory import create_gateway
from tests.support.gateway import ApiClient, make_config


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[gateway]\nid = "gw-cli-01"\nstate_dir = "{tmp_path / "state"}"\n'
                    '[http]\nlisten = [{ host = "127.0.0.1", port = 0 }]\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_token_issue_list_revoke(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "token", "issue", "--config", str(config_file), "--sub", "tech1", "--role",
                         "technician", "--ttl", "8h", "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["expires_at"] - issued["issued_at"] == 8 * 3600
    code, out, _ = run(capsys, "token", "list", "--config", str(config_file))
    assert code == 0 and issued["jti"] in out and "tech1" in out and issued["token"] not in out
    code, out, _ = run(capsys, "token", "revoke", issued["jti"], "--config", str(config_file))
    assert code == 0 and "revoked" in out
    code, out, _ = run(capsys, "token", "list", "--config", str(config_file))
    assert issued["jti"] in out and out.strip().splitlines()[-1].endswith("yes")


def test_token_issue_refuses_bad_input(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["token", "issue", "--config", str(config_file), "--sub", "x", "--role", "root"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["token", "issue", "--config", str(config_file), "--sub", "x", "--role", "viewer", "--ttl", "8 hours"])
    code, _, err = run(capsys, "token", "issue", "--config", str(config_file), "--sub", "x", "--role", "viewer",
                       "--ttl", "400d")
    assert code == 2 and "ttl" in err.lower()


def test_keys_rotate_list_revoke(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "token", "issue", "--config", str(config_file), "--sub", "a", "--role", "viewer")
    code, out, _ = run(capsys, "keys", "list", "--config", str(config_file))
    first_kid = out.splitlines()[1].split()[0]
    code, out, _ = run(capsys, "keys", "rotate", "--config", str(config_file))
    assert code == 0 and first_kid in out
    code, out, _ = run(capsys, "keys", "list", "--config", str(config_file))
    statuses = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert statuses[first_kid] == "retired" and list(statuses.values()).count("active") == 1
    code, out, _ = run(capsys, "keys", "revoke", first_kid, "--config", str(config_file))
    assert code == 0
    code, _, err = run(capsys, "keys", "revoke", "no-such-kid", "--config", str(config_file))
    assert code == 1 and "no-such-kid" in err


def tamper(db: Path, sql: str, *params: object) -> None:
    connection = sqlite3.connect(db)
    try:
        triggers = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        for name in triggers:
            connection.execute(f'DROP TRIGGER "{name}"')
        connection.execute(sql, params)
        connection.commit()
    finally:
        connection.close()


def test_audit_verify_catches_tampering(config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(5):
        run(capsys, "token", "issue", "--config", str(config_file), "--sub", f"user{n}", "--role", "viewer")
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config_file))
    assert code == 0 and "5 entries" in out
    db = tmp_path / "state" / "state.db"
    table = sqlite3.connect(db).execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%audit%'").fetchone()[0]
    tamper(db, f'UPDATE "{table}" SET actor = ? WHERE id = 3', "cli:mallory")
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config_file))
    assert code == 1 and "entry 3" in out


def test_cli_revocation_reaches_running_server(config_file: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        from gateway.config.loader import load_config

        config = load_config(config_file)
        gateway = await create_gateway(config)
        await gateway.start()
        api = ApiClient(gateway.urls[0])
        try:
            proc = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "gateway", "token", "issue", "--config", str(config_file), "--sub", "t",
                 "--role", "viewer", "--json"], capture_output=True, text=True, timeout=60,
            )
            issued = json.loads(proc.stdout)
            assert (await api.request("GET", "/api/v1/status", token=issued["token"])).status == 200
            await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "gateway", "token", "revoke", issued["jti"], "--config",
                                 str(config_file)], capture_output=True, timeout=60, check=True,
            )
            for _ in range(50):  # the server re-reads revocations about once a second
                if gateway.context.revocations.is_revoked(issued["jti"]):
                    break
                await asyncio.sleep(0.1)
            assert (await api.request("GET", "/api/v1/status", token=issued["token"])).status == 401
            # a key rotation made by the CLI is picked up too: new tokens from the CLI verify
            old_kid = gateway.context.keyring.active_kid
            await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "gateway", "keys", "rotate", "--config",
                                                     str(config_file)], capture_output=True, timeout=60, check=True)
            proc = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "gateway", "token", "issue", "--config", str(config_file), "--sub", "t2",
                 "--role", "viewer"], capture_output=True, text=True, timeout=60,
            )
            fresh = proc.stdout.strip()
            for _ in range(50):
                if gateway.context.keyring.active_kid != old_kid:
                    break
                await asyncio.sleep(0.1)
            assert (await api.request("GET", "/api/v1/status", token=fresh)).status == 200
        finally:
            await api.close()
            await gateway.stop()

    asyncio.run(scenario())


def test_cli_key_rotation_and_revocation_reach_running_server(config_file: Path) -> None:
    """`keys rotate`: the old key's tokens keep working; `keys revoke KID`: they stop, the new key's do not."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args, "--config", str(config_file)],
                              capture_output=True, text=True, timeout=60, check=True)

    async def wait_for(predicate, what: str) -> None:
        for _ in range(100):  # the server re-reads the keyring about once a second
            if predicate():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"server did not pick up {what}")

    async def scenario() -> None:
        from gateway.config.loader import load_config

        gateway = await create_gateway(load_config(config_file))
        await gateway.start()
        api = ApiClient(gateway.urls[0])
        try:
            old = json.loads((await asyncio.to_thread(cli, "token", "issue", "--sub", "old", "--role", "viewer",
                                                      "--json")).stdout)
            assert (await api.request("GET", "/api/v1/status", token=old["token"])).status == 200
            await asyncio.to_thread(cli, "keys", "rotate")
            await wait_for(lambda: gateway.context.keyring.active_kid != old["kid"], "the rotation")
            assert (await api.request("GET", "/api/v1/status", token=old["token"])).status == 200
            new = json.loads((await asyncio.to_thread(cli, "token", "issue", "--sub", "new", "--role", "viewer",
                                                      "--json")).stdout)
            assert new["kid"] == gateway.context.keyring.active_kid != old["kid"]
            assert (await api.request("GET", "/api/v1/status", token=new["token"])).status == 200

            await asyncio.to_thread(cli, "keys", "revoke", old["kid"])
            statuses = {k.kid: k.status for k in gateway.context.keyring.keys()}
            await wait_for(lambda: {k.kid: k.status for k in gateway.context.keyring.keys()}[old["kid"]] == "revoked",
                           f"the revocation (keys were {statuses})")
            refused = await api.request("GET", "/api/v1/status", token=old["token"])
            assert refused.status == 401
            assert refused.json()["error"]["message"] == "the token was signed with a revoked key"
            assert (await api.request("GET", "/api/v1/status", token=new["token"])).status == 200
            actions = [e.action for e in await gateway.context.audit.list(limit=20)]
            assert "keys.rotate" in actions and "keys.revoke" in actions
        finally:
            await api.close()
            await gateway.stop()

    asyncio.run(scenario())


def test_bad_input_gets_a_message_not_a_traceback(config_file: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "token", "revoke", "", "--config", str(config_file))
    assert code == 2 and "token id" in err and "Traceback" not in err
    code, out, err = run(capsys, "token", "revoke", "never-issued-1234", "--config", str(config_file))
    assert code == 0 and "revoked never-issued-1234" in out and "no token with id never-issued-1234" in err
    with pytest.raises(SystemExit) as info:
        main(["audit", "list", "--limit", "0", "--config", str(config_file)])
    assert info.value.code == 2 and "must be from 1 to" in capsys.readouterr().err
    (tmp_path / "state" / "keys").chmod(0o777)  # made unsafe by hand
    code, _, err = run(capsys, "keys", "list", "--config", str(config_file))
    assert code == 1 and "writable by other users" in err
