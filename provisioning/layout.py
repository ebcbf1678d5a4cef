"""Where every provisioned file lives, under the provisioning root (`/` on a device)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from provisioning import const


@dataclass(frozen=True)
class Layout:
    """The device's paths placed under `root`. `device_path()` maps back to the path on the device."""

    root: Path

    def place(self, device_path: PurePosixPath | str) -> Path:
        """`/etc/x` -> `<root>/etc/x`."""
        return self.root / str(device_path).lstrip("/")

    def device_path(self, path: Path) -> str:
        """`<root>/etc/x` -> `/etc/x` (for messages: what the operator will find on the device)."""
        return "/" + str(path.relative_to(self.root)) if path != self.root else "/"

    @property
    def is_live_system(self) -> bool:
        """Provisioning the running system itself (root `/`), not a staged tree."""
        return self.root.resolve() == Path("/")

    # --- accounts ---------------------------------------------------------------------------------
    @property
    def passwd(self) -> Path:
        return self.place("/etc/passwd")

    @property
    def group(self) -> Path:
        return self.place("/etc/group")

    @property
    def shadow(self) -> Path:
        return self.place("/etc/shadow")

    @property
    def gshadow(self) -> Path:
        return self.place("/etc/gshadow")

    # --- configuration and identity ---------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.place(const.CONFIG_DIR)

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def gateway_id_file(self) -> Path:
        return self.config_dir / "gateway-id"

    @property
    def tls_dir(self) -> Path:
        return self.config_dir / "tls"

    @property
    def server_key(self) -> Path:
        return self.tls_dir / "server.key"

    @property
    def server_cert(self) -> Path:
        return self.tls_dir / "server.crt"

    @property
    def server_csr(self) -> Path:
        return self.tls_dir / "server.csr"

    @property
    def client_key(self) -> Path:
        return self.tls_dir / "client.key"

    @property
    def client_csr(self) -> Path:
        return self.tls_dir / "client.csr"

    # --- state ------------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.place(const.STATE_DIR)

    @property
    def signing_keys_dir(self) -> Path:
        return self.state_dir / "keys"

    @property
    def secrets_key(self) -> Path:
        return self.state_dir / "secrets.key"

    @property
    def admin_token_record(self) -> Path:
        """Says that the first admin token was issued (its jti, never the token)."""
        return self.state_dir / "first-admin-token.jti"

    # --- system integration -----------------------------------------------------------------------
    @property
    def unit_file(self) -> Path:
        return self.place(const.UNIT_DIR / const.UNIT_NAME)

    @property
    def unit_wants_link(self) -> Path:
        return self.place(const.UNIT_DIR / f"{const.UNIT_WANTED_BY}.wants" / const.UNIT_NAME)

    @property
    def udev_rule(self) -> Path:
        return self.place(const.UDEV_RULE)
