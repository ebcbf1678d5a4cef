"""Reading the TOML config file: syntax, environment overrides for secrets paths, validation.

Every problem becomes a `ConfigIssue` with the key path it concerns, so `check-config` can print all
of them at once instead of the first traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.config.models import GatewayConfig

# The only settings the environment may override: paths to secret material, so that a
# credentials directory (systemd LoadCredential=) or a test can point at other files.
SECRET_PATH_ENV_OVERRIDES: Mapping[str, tuple[str, ...]] = {
    "EDGE_GATEWAY_TLS_CERT_FILE": ("http", "tls", "cert_file"),
    "EDGE_GATEWAY_TLS_KEY_FILE": ("http", "tls", "key_file"),
    "EDGE_GATEWAY_SIGNING_KEYS_DIR": ("secrets", "signing_keys_dir"),
    "EDGE_GATEWAY_ENCRYPTION_KEY_FILE": ("secrets", "encryption_key_file"),
}

SIMULATED_SITE_CONFIG = "simulated-site.toml"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where (dotted key path) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(Exception):
    """The config could not be loaded; `issues` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(f"{source}: {len(issues)} problem(s): " + "; ".join(str(i) for i in issues))


def format_location(loc: tuple[int | str, ...]) -> str:
    """('http', 'listen', 0, 'port') -> 'http.listen[0].port'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# A model-level check names the key it concerns at the start of its message ("listen[0].host: ..."),
# since pydantic places such errors on the model; the loader moves that key into the location.
RELATIVE_KEY_PREFIX = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (.*)$", re.DOTALL)
VALUE_ERROR_PREFIX = "Value error, "


def _issues_from_validation(error: ValidationError) -> list[ConfigIssue]:
    issues = []
    for item in error.errors(include_url=False):
        location = format_location(tuple(item["loc"]))
        message = item["msg"].removeprefix(VALUE_ERROR_PREFIX)
        shown_input = "input" in item and item["type"] != "missing" and not isinstance(item["input"], (dict, list))
        if item["type"] == "extra_forbidden":
            issues.append(ConfigIssue(location, "unknown key (not a setting of this version; check the spelling)"))
        elif item["type"] == "value_error":
            # a model-level check reports each problem on a line of its own, each naming its key
            for line in message.splitlines():
                relative = RELATIVE_KEY_PREFIX.match(line)
                if relative is not None:
                    key, text = relative.groups()
                    issues.append(ConfigIssue(f"{location}.{key}" if location else key, text))
                else:
                    issues.append(ConfigIssue(location, f"{line} (got {item['input']!r})" if shown_input else line))
        else:
            issues.append(ConfigIssue(location, f"{message} (got {item['input']!r})" if shown_input else message))
    return issues


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of `data` with the secrets-path overrides found in `environ` applied."""
    result = _deep_copy(data)
    for variable, key_path in SECRET_PATH_ENV_OVERRIDES.items():
        value = environ.get(variable)
        if not value:
            continue
        node = result
        for key in key_path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[key_path[-1]] = value
    return result


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def parse_config(
    text: str, *, source: str, base_dir: Path | None, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Parse and validate TOML text. Raises ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigIssue("", f"not valid TOML: {exc}")]) from None
    return validate_config_data(apply_env_overrides(data, environ or {}), source=source, base_dir=base_dir)


def validate_config_data(data: dict[str, Any], *, source: str, base_dir: Path | None) -> GatewayConfig:
    """Validate already-parsed config data. Raises ConfigError listing every problem."""
    try:
        return GatewayConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(source, _issues_from_validation(exc)) from None


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load the config file at `path`. Raises ConfigError (never a traceback) on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigIssue("", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [ConfigIssue("", "is a directory, not a config file")]) from None
    except PermissionError:
        raise ConfigError(str(path), [ConfigIssue("", "permission denied")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [ConfigIssue("", "not UTF-8 text")]) from None
    return parse_config(text, source=str(path), base_dir=path.parent.resolve(), environ=environ)


def simulated_site_text() -> str:
    """The embedded example config of the simulated site."""
    return resources.files("gateway.config").joinpath(SIMULATED_SITE_CONFIG).read_text(encoding="utf-8")
