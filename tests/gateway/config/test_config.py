"""Config loading and `edge-gateway check-config`: every problem named with its key path, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.config.loader import ConfigError, load_config, simulated_site_text

EXAMPLE = simulated_site_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_embedded_example_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(write(tmp_path, EXAMPLE), capsys)
    assert code == 0, out
    assert "gw-sim-01" in out


def test_empty_file_gives_safe_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert [a.host for a in config.http.listen] == ["127.0.0.1"]
    assert config.http.tls is None
    assert config.http.max_body_bytes == 64 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[http]\nlisten = [{ host = "127.0.0.1", port = "eighty" }]\n', "http.listen[0].port"),
        ('[http]\nlisten = [{ host = "127.0.0.1", port = 70000 }]\n', "http.listen[0].port"),
        ('[auth]\nleeway_s = "soon"\n', "auth.leeway_s"),
        ('[gateway]\nid = "Bad ID!"\n', "gateway.id"),
        ('[gateway]\nlog_level = "loud"\n', "gateway.log_level"),
        ('[gateway]\nnmae = "typo"\n', "gateway.nmae: unknown key"),
        ('[printerz]\nx = 1\n', "printerz: unknown key"),
        ('[http]\nlisten = [{ host = "printer-vlan.local", port = 8443 }]\n', "http.listen[0].host"),
        ('[http]\nlisten = [{ host = "0.0.0.0", port = 8443 }]\n', "http.listen[0].host: wildcard address 0.0.0.0 refused"),
        ('[http]\nlisten = [{ host = "::", port = 8443 }]\n', "wildcard address :: refused"),
        ('[http]\nlisten = [{ host = "192.168.40.2", port = 8443 }]\n', "http.listen[0].host: plain HTTP on non-loopback"),
        ('[http.tls]\ncert_file = "missing.pem"\nkey_file = "missing.key"\n', "http.tls.cert_file: file not found"),
        ('[auth]\ndefault_ttl_s = 999999999\nmax_ttl_s = 3600\n', "auth.default_ttl_s: must not exceed max_ttl_s"),
        ("[gateway\nid=1", "not valid TOML"),
    ],
)
def test_bad_config_is_named_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    code, out = check(write(tmp_path, text), capsys)
    assert code == 2
    assert expected in out
    assert "Traceback" not in out


def test_every_problem_is_listed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '[gateway]\nid = "X"\nlog_level = 3\n[http]\nmax_body_bytes = "big"\n[lifecycle]\nbogus = 1\n'
    code, out = check(write(tmp_path, text), capsys)
    assert code == 2
    for location in ("gateway.id", "gateway.log_level", "http.max_body_bytes", "lifecycle.bogus"):
        assert location in out
    assert "4 problem(s)" in out


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(tmp_path / "nope.toml", capsys)
    assert code == 2 and "file not found" in out
    code, out = check(tmp_path, capsys)
    assert code == 2 and "is a directory" in out


def test_wildcard_allowed_only_when_said_with_tls(tmp_path: Path) -> None:
    from tests.support.certs import TestCA

    issued = TestCA(tmp_path / "ca").issue("gateway")
    text = (
        '[http]\nallow_wildcard_bind = true\nlisten = [{ host = "0.0.0.0", port = 8443 }]\n'
        f'[http.tls]\ncert_file = "{issued.cert_file}"\nkey_file = "{issued.key_file}"\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.http.listen[0].is_wildcard


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[gateway]\nstate_dir = "state"\n'))
    assert config.gateway.state_dir == (tmp_path / "state").resolve()


def test_environment_overrides_secret_paths_only(tmp_path: Path) -> None:
    from tests.support.certs import TestCA

    issued = TestCA(tmp_path / "ca").issue("gateway")
    environ = {
        "EDGE_GATEWAY_TLS_CERT_FILE": str(issued.cert_file),
        "EDGE_GATEWAY_TLS_KEY_FILE": str(issued.key_file),
        "EDGE_GATEWAY_SIGNING_KEYS_DIR": str(tmp_path / "keys"),
        "EDGE_GATEWAY_GATEWAY_ID": "ignored",  # not a secrets path: no effect
        "EDGE_GATEWAY_HTTP_ALLOW_WILDCARD_BIND": "true",
    }
    config = load_config(write(tmp_path, ""), environ)
    assert config.http.tls is not None and config.http.tls.cert_file == issued.cert_file
    assert config.signing_keys_dir == tmp_path / "keys"
    assert config.gateway.id == "edge-gateway"
    assert config.http.allow_wildcard_bind is False


def test_env_override_to_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ""), {"EDGE_GATEWAY_TLS_CERT_FILE": "/nonexistent.pem"})
    locations = [issue.location for issue in info.value.issues]
    assert "http.tls.cert_file" in locations and "http.tls.key_file" in locations


def test_check_config_as_a_real_command(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nlisten = [{ host = "0.0.0.0", port = 1 }]\n')
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "http.listen" in result.stderr and "wildcard" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_unsafe_listen_address_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ('[gateway]\nlog_level = "loud"\n'
            '[http]\nlisten = [{ host = "0.0.0.0", port = 1 }, { host = "::", port = 2 }, { host = "10.1.1.1", port = 3 }]\n')
    code, out = check(write(tmp_path, text), capsys)
    assert code == 2
    lines = [line.strip() for line in out.splitlines()[1:]]
    assert "gateway.log_level: Input should be 'debug', 'info', 'warning' or 'error' (got 'loud')" in lines
    assert sum(line.startswith("http.listen[0].host: wildcard address 0.0.0.0 refused") for line in lines) == 1
    assert sum(line.startswith("http.listen[1].host: wildcard address :: refused") for line in lines) == 1
    assert sum(line.startswith("http.listen[2].host: plain HTTP on non-loopback address 10.1.1.1") for line in lines) == 1
    assert "6 problem(s)" in out


@pytest.mark.parametrize("command", [["serve", "--config"], ["token", "list", "--config"], ["audit", "verify", "--config"]])
def test_every_command_refuses_a_bad_config_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = write(tmp_path, '[http]\nlisten = [{ host = "0.0.0.0", port = "x" }]\n[gateway]\nstate = "/tmp"\n')
    code = main([*command, str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "http.listen[0].port" in err and "gateway.state: unknown key" in err
    assert not (tmp_path / "state").exists()  # nothing was started or created
