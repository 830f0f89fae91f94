"""The emulator itself: every server on a background thread, and the ready-file ``info``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp

from . import _federation, _identity, _managed_identity
from ._admin import admin_routes
from ._admin_client import EmulatorAdmin
from ._arm import build_arm_app
from ._ca import (
    CertificateFiles,
    issue_client_certificate,
    load_or_create_ca,
    write_certificate_files,
)
from ._conditional_access import setting_problem
from ._context import EmulatorContext
from ._device_page import device_page_routes
from ._federation import federation_routes
from ._keys import SigningKey
from ._keyvault import build_keyvault_app
from ._keyvault import info as key_vault_info
from ._managed_identity import managed_identity_routes
from ._seed import load_seed
from ._server import ServedApp, ServerThread, loopback_socket
from ._state import EmulatorState
from ._tokens import TokenIssuer
from ._traffic import TrafficMiddleware

__all__ = ["Emulator"]


class Emulator:
    """An identity platform + ARM emulator serving from a background thread.

    ``start()`` returns once every server listens; ``info`` is then the ready-file dict.
    """

    def __init__(
        self,
        seed: None | dict[str, Any] | str | os.PathLike[str] = None,
        auto_approve: str | None = None,
        auto_approve_delay_s: float = 1.0,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        arm_port: int = 0,
        http_port: int = 0,
        block_device_code: bool | list[str] | None = None,
    ) -> None:
        """``block_device_code``: Conditional Access refuses the device-code flow in every tenant
        (true) or in these (tenant ids or domains); None keeps the seed's choice."""
        self._directory = load_seed(seed)
        if block_device_code is not None:
            problem = setting_problem(block_device_code, self._directory)
            if problem:
                raise ValueError(problem)
            self._directory.block_device_code = block_device_code
        if auto_approve is not None and self._directory.user(auto_approve) is None:
            known = ", ".join(u.username for u in self._directory.users)
            raise ValueError(
                f"auto_approve={auto_approve!r} is not a seeded user; pick one of: {known}."
            )
        self._auto_approve = auto_approve
        self._auto_approve_delay_s = float(auto_approve_delay_s)
        self._state_dir_arg = Path(state_dir) if state_dir is not None else None
        self._ports = (port, arm_port, http_port)
        self._no_imds: _managed_identity.NoImds | None = None  # while running
        self._state_dir: Path | None = None
        self._server: ServerThread | None = None
        self._info: dict[str, Any] | None = None
        self._context: EmulatorContext | None = None

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            raise RuntimeError("The emulator is not running; call start() first.")
        return self._info

    def start(self) -> Emulator:
        if self._server is not None:
            raise RuntimeError("The emulator is already running.")
        if self._state_dir_arg is None:
            self._state_dir = Path(tempfile.mkdtemp(prefix="nbauth-emulator-"))
        else:
            self._state_dir = self._state_dir_arg
            self._state_dir.mkdir(parents=True, exist_ok=True)
        sockets = []
        try:
            ca = load_or_create_ca(self._state_dir)
            files = write_certificate_files(ca, self._state_dir)
            for sp in self._directory.service_principals:
                if sp.is_managed_identity:  # no credentials of their own: the MI endpoint
                    continue
                sp.certificate = issue_client_certificate(
                    ca, self._state_dir / f"sp-{sp.client_id}.pem", sp.display_name
                )
            sockets = [loopback_socket(p) for p in self._ports]
            identity_port, arm_port, http_port = (s.getsockname()[1] for s in sockets)
            sockets.append(loopback_socket(0))  # Key Vault (secrets only): see _keyvault
            vault_url = f"https://127.0.0.1:{sockets[3].getsockname()[1]}/"
            authority_host = f"https://127.0.0.1:{identity_port}"
            http_base = f"http://127.0.0.1:{http_port}"
            key = SigningKey.generate()
            state = EmulatorState(
                {
                    "auto_approve": self._auto_approve,
                    "auto_approve_delay_s": self._auto_approve_delay_s,
                    "block_device_code": self._directory.block_device_code,
                }
            )
            # Known secrets count as issued: tests search outputs for every one of them.
            for sp in self._directory.service_principals:
                state.record_issued("client_secrets", sp.client_secret)
            for user in self._directory.users:
                state.record_issued("passwords", user.password)
            ctx = EmulatorContext(
                directory=self._directory,
                state=state,
                key=key,
                issuer=TokenIssuer(key, authority_host),
                authority_host=authority_host,
                arm_endpoint=f"https://127.0.0.1:{arm_port}/",
                device_login_url=f"{http_base}/devicelogin",
            )
            mi_header = _managed_identity.new_identity_header()
            self._no_imds = _managed_identity.NoImds()
            state.record_issued("client_secrets", mi_header)
            workload = _federation.write_token_file(ctx, self._state_dir)
            apps = _build_apps(ctx, mi_header)
            vault = build_keyvault_app(ctx, vault_url)
            apps["keyvault"] = TrafficMiddleware(vault, state, "keyvault", lambda m, p: "keyvault")
            cert, key_file = str(files.server_cert), str(files.server_key)
            self._server = ServerThread(
                [
                    ServedApp(apps["identity"], sockets[0], cert, key_file),
                    ServedApp(apps["arm"], sockets[1], cert, key_file),
                    ServedApp(apps["http"], sockets[2]),
                    ServedApp(apps["keyvault"], sockets[3], cert, key_file),
                ]
            )
            self._server.start()
        except BaseException:
            for sock in sockets:
                sock.close()
            if self._no_imds is not None:
                self._no_imds.close()
                self._no_imds = None
            self._server = None
            self._cleanup_state_dir()
            raise
        self._context = ctx
        self._info = self._build_info(ctx, files, http_base)
        self._info["managed_identity"] = _managed_identity.info(ctx, http_base, mi_header)
        self._info["env"]["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = self._no_imds.url
        self._info["workload_identity"] = workload
        self._info["key_vault"] = key_vault_info(ctx, vault_url)
        return self

    def _build_info(
        self, ctx: EmulatorContext, files: CertificateFiles, http_base: str
    ) -> dict[str, Any]:
        d = self._directory
        # Managed identities have no certificate (nor a secret anyone knows): not offered here.
        sp = next((s for s in d.service_principals if not s.is_managed_identity), None)
        bundle, ca_cert = str(files.ca_bundle), str(files.ca_cert)
        return {
            "authority_host": ctx.authority_host,
            "arm_endpoint": ctx.arm_endpoint,
            "device_login_url": ctx.device_login_url,
            "admin_url": f"{http_base}/admin",
            "ca_cert": ca_cert,
            "ca_bundle": bundle,
            "server_cert": str(files.server_cert),
            "server_key": str(files.server_key),
            "users": [u.username for u in d.users],
            "tenants": [
                {"tenant_id": t.tenant_id, "domain": t.domain, "display_name": t.display_name}
                for t in d.tenants
            ],
            "service_principal": (
                {
                    "tenant_id": sp.tenant_id,
                    "client_id": sp.client_id,
                    "client_secret": sp.client_secret,
                    "certificate_path": str(sp.certificate.path),
                }
                if sp and sp.certificate  # registered for every application at start
                else None
            ),
            "public_client_ids": list(d.public_clients),
            "block_device_code": d.block_device_code,
            # A cloud description: nbauth.login(cloud=info["cloud"]) or NBAUTH_CLOUD=<ready file>.
            "cloud": {
                "name": "nbauth-emulator",
                "authority_host": ctx.authority_host,
                "arm_endpoint": ctx.arm_endpoint,
                "arm_resource": "https://management.azure.com/",
                "resources": {
                    "storage": "https://storage.azure.com",
                    "graph": "https://graph.microsoft.com",
                    "keyvault": "https://vault.azure.net",
                },
            },
            "env": {
                "AZURE_AUTHORITY_HOST": ctx.authority_host,
                "REQUESTS_CA_BUNDLE": bundle,
                "SSL_CERT_FILE": bundle,
                "CURL_CA_BUNDLE": bundle,
                "NBAUTH_ARM_ENDPOINT": ctx.arm_endpoint,
                "NODE_EXTRA_CA_CERTS": ca_cert,
            },
            "pid": os.getpid(),
        }

    def write_ready_file(self, path: str | os.PathLike[str]) -> None:
        """Write ``info`` as JSON atomically, so a watcher never reads half a file."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.info, indent=2), encoding="utf-8")
        os.replace(tmp, path)

    @property
    def admin(self) -> EmulatorAdmin:
        """A client for the admin API (approve, settings, faults, ...)."""
        return EmulatorAdmin(self.info["admin_url"])

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._no_imds is not None:
            self._no_imds.close()
            self._no_imds = None
        self._info = None
        self._cleanup_state_dir()

    def _cleanup_state_dir(self) -> None:
        if self._state_dir is not None and self._state_dir_arg is None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
        self._state_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._info["authority_host"] if self._info else "stopped"
        return f"<nbauth Emulator {where}>"


def _build_apps(ctx: EmulatorContext, mi_header: str) -> dict[str, ASGIApp]:
    arm = build_arm_app(ctx)
    return {
        "identity": TrafficMiddleware(
            _identity.build_identity_app(ctx), ctx.state, "identity", _identity.classify
        ),
        "arm": TrafficMiddleware(arm, ctx.state, "arm", lambda method, path: "arm"),
        "http": Starlette(
            routes=[
                *device_page_routes(ctx),
                *admin_routes(ctx),
                *federation_routes(ctx),
                *managed_identity_routes(ctx, mi_header),
            ]
        ),
    }
