"""The gateway's config file, rendered once from `templates/config.toml.tmpl` and then left alone."""

from __future__ import annotations

import json
from importlib import resources
from string import Template

from gateway.config.loader import ConfigError, load_config
from gateway.config.models import GatewayConfig
from provisioning import const
from provisioning.answers import SiteAnswers
from provisioning.files import Changes, write_file
from provisioning.layout import Layout
from provisioning.users import Accounts

TEMPLATE = "config.toml.tmpl"


class RenderedConfigError(Exception):
    """The config file on the device does not load (the message lists every problem)."""


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a TOML basic string for the plain values used here


def render_config(layout: Layout, gateway_id: str, answers: SiteAnswers) -> str:
    """The config text for this device. Paths are the device's paths under the provisioning root."""
    listen = ", ".join(f"{{ host = {_toml_string(host)}, port = {port} }}" for host, port in answers.listen_addresses())
    template = Template(resources.files("provisioning").joinpath("templates", TEMPLATE).read_text())
    return template.substitute(
        gateway_id=gateway_id,
        gateway_id_toml=_toml_string(gateway_id),
        state_dir=_toml_string(str(layout.state_dir)),
        log_format=_toml_string(answers.log_format),
        listen=listen,
        allow_wildcard_bind="true" if answers.allow_wildcard_bind else "false",
        tls_cert_file=_toml_string(str(layout.server_cert)),
        tls_key_file=_toml_string(str(layout.server_key)),
        signing_keys_dir=_toml_string(str(layout.signing_keys_dir)),
        encryption_key_file=_toml_string(str(layout.secrets_key)),
        extruder_name=const.EXTRUDER_DEVICE_NAME,
    )


def ensure_config(layout: Layout, gateway_id: str, answers: SiteAnswers, accounts: Accounts,
                  changes: Changes) -> GatewayConfig:
    """Write the config if there is none (an existing one is kept), then load it as the service will."""
    written = write_file(layout.config_file, render_config(layout, gateway_id, answers).encode(),
                         const.CONFIG_FILE_MODE, accounts.config_owner, changes, replace=False,
                         what=f"config of {gateway_id}")
    if not written:
        changes.note(f"kept the existing {layout.device_path(layout.config_file)} (site flags apply to a new one)")
    try:
        config = load_config(layout.config_file, {})  # the file itself, not environment overrides
    except ConfigError as error:
        raise RenderedConfigError(str(error)) from None
    if config.gateway.id != gateway_id:
        raise RenderedConfigError(
            f"{layout.device_path(layout.config_file)}: gateway.id is {config.gateway.id!r}, "
            f"the device is {gateway_id!r}"
        )
    return config
