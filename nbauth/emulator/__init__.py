"""A local Microsoft Entra ID (identity platform v2) and Azure Resource Manager, for tests.

The emulator speaks the real protocol over HTTPS on 127.0.0.1, so msal, azure-identity and the
Azure SDK accept what it issues: use it to run a notebook that signs in without a network,
an account or a browser. From a shell::

    $ nbauth-emulator --auto-approve alice@contoso.example --ready-file emu.json

prints the URLs and seeded users, and writes ``emu.json`` once listening. Its ``env`` entry holds
the environment variables (``AZURE_AUTHORITY_HOST``, ``REQUESTS_CA_BUNDLE``, ...) that point a
process started afterwards at the emulator; set them before starting Jupyter, then sign in with
``disable_instance_discovery=True`` (azure-identity) or ``instance_discovery=False`` (msal).

From Python (e.g. a pytest fixture)::

    from nbauth.emulator import Emulator

    with Emulator(auto_approve="alice@contoso.example") as emu:
        emu.info["authority_host"], emu.info["ca_bundle"], emu.info["env"]

Sign-ins are approved on the page at ``info["device_login_url"]``, automatically
(``auto_approve``), or through the JSON admin API at ``info["admin_url"]``: ``POST /approve``,
``/decline``, ``/expire``, ``/revoke``, ``/settings``, ``/faults``, ``/reset``; ``GET /requests``,
``/issued``, ``/pending``, ``/settings``, ``/directory``. A browser sign-in (authorization
code) is answered on the account picker its authorize address shows, or by
``EmulatorAdmin.pick_account(url, username)``, which returns the address the browser would then
end on (``http://localhost:<port>/?code=...``, to paste back). The seeded directory (tenants, users
with passwords, subscriptions, a service principal) is described in ``nbauth.emulator._seed``;
replace it with ``seed=``.

A tenant can refuse the device-code flow the way Conditional Access does (AADSTS53003):
``block_device_code=True`` or a list of tenants, as a seed key, an ``Emulator`` argument, a
setting (``EmulatorAdmin.settings(block_device_code=...)``) or ``nbauth-emulator
--block-device-code [TENANT ...]`` (``NBAUTH_EMULATOR_BLOCK_DEVICE_CODE=1`` or ``=tenant,...``).

Managed identity and workload identity have stand-ins too: an App Service style endpoint
(``info["managed_identity"]``: ``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` in its ``env``) and an
IMDS style one, and a workload issuer whose token for the seed's federated credential is written
at start (``info["workload_identity"]``; more from ``POST /admin/federated-token``). The ``env``
points ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` at a loopback port where nothing answers, so that no
managed identity probe leaves the machine.

Never point real credentials at it, and never point it at the internet: it binds loopback only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._admin_client import AdminCallError, EmulatorAdmin

if TYPE_CHECKING:
    from ._emulator import Emulator

__all__ = ["AdminCallError", "Emulator", "EmulatorAdmin"]


def __getattr__(name: str) -> Any:
    # The one deferred import: Emulator needs the `emulator` extra's heavy libraries (starlette,
    # uvicorn, cryptography, trustme), which EmulatorAdmin, a plain HTTP client, does not.
    if name == "Emulator":
        from ._emulator import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
