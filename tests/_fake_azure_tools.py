"""Fake ``az``, ``azd`` and ``pwsh`` for tests: the arguments azure-identity passes them, the
output it parses, tokens from the emulator. Run as scripts written by
``_service_fixtures.install_tool`` (config in ``<name>.json`` next to the script).

- ``az account get-access-token --output json --resource R [--tenant T] [--subscription S]``
  -> ``{"accessToken", "expiresOn", "expires_on", "subscription", "tenant", "tokenType"}``
- ``azd auth token --output json --no-prompt --scope S... [--tenant-id T]``
  -> ``{"token", "expiresOn"}`` (UTC, ``%Y-%m-%dT%H:%M:%SZ``)
- ``pwsh -NoProfile -NonInteractive -EncodedCommand <base64 UTF-16LE script>``: reads the
  script's ResourceUrl and tenant, prints ``azsdk%<token>%<expires on>``.

Not signed in, each prints what the real tool prints then, and exits 1. An error from the
emulator is printed as the tool prints Entra's errors (``ERROR: AADSTS...``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sys
from pathlib import Path

import requests

NOT_SIGNED_IN = {
    "az": "ERROR: Please run 'az login' to setup account.",
    "azd": "ERROR: fetching token: not logged in, run `azd auth login` to login",
    "pwsh": "Get-AzAccessToken: Run Connect-AzAccount to login.",
}


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _token(config: dict, scope: str, tenant: str | None) -> dict:
    mode = config["mode"]
    if mode == "user":
        data = {
            "grant_type": "refresh_token",
            "client_id": config["client_id"],
            "refresh_token": config["refresh_token"],
            "scope": scope,
        }
        segment = tenant or "organizations"
    else:
        data = {
            "grant_type": "client_credentials",
            "client_id": config["client_id"],
            "client_secret": config["client_secret"],
            "scope": scope,
        }
        segment = tenant or config["tenant"]
    response = requests.post(
        f"{config['authority_host']}/{segment}/oauth2/v2.0/token",
        data=data,
        verify=config["ca_bundle"],
        timeout=10,
    )
    body = response.json()
    if "access_token" not in body:
        raise RuntimeError(body.get("error_description") or body.get("error"))
    return body


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def main(name: str, argv: list[str]) -> int:
    script_dir = Path(sys.argv[0]).resolve().parent
    config = json.loads((script_dir / f"{name}.json").read_text())
    shown = argv
    if name == "pwsh" and len(argv) > 3:  # log what the script asks, not the script
        script = base64.b64decode(argv[3]).decode("utf-16-le")
        resource = re.search(r"'ResourceUrl' = '([^']*)'", script).group(1)
        tenant = re.search(r"\$tenantId = '([^']*)'", script).group(1)
        shown = argv[:3] + ["<script>", f"ResourceUrl={resource}", f"TenantId={tenant}"]
    with open(script_dir / f"{name}.calls", "a") as log:
        log.write(json.dumps(shown) + "\n")
    if not config.get("logged_in"):
        print(NOT_SIGNED_IN[name], file=sys.stderr)
        return 1
    try:
        if name == "az":
            return _az(config, argv)
        if name == "azd":
            return _azd(config, argv)
        return _pwsh(config, argv)
    except RuntimeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


def _az(config: dict, argv: list[str]) -> int:
    assert argv[:4] == ["account", "get-access-token", "--output", "json"], argv
    resource = _option(argv, "--resource")
    tenant = _option(argv, "--tenant")
    body = _token(config, f"{resource}/.default", tenant)
    expires_on = int(_claims(body["access_token"])["exp"])
    print(
        json.dumps(
            {
                "accessToken": body["access_token"],
                "expiresOn": dt.datetime.fromtimestamp(expires_on).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "expires_on": expires_on,
                "subscription": _option(argv, "--subscription")
                or "c0a50001-0000-4000-8000-000000000001",
                "tenant": _claims(body["access_token"])["tid"],
                "tokenType": "Bearer",
            },
            indent=2,
        )
    )
    return 0


def _azd(config: dict, argv: list[str]) -> int:
    assert argv[:5] == ["auth", "token", "--output", "json", "--no-prompt"], argv
    scopes = [argv[i + 1] for i, a in enumerate(argv) if a == "--scope"]
    tenant = _option(argv, "--tenant-id")
    body = _token(config, " ".join(scopes), tenant)
    expires_on = int(_claims(body["access_token"])["exp"])
    stamp = dt.datetime.fromtimestamp(expires_on, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({"token": body["access_token"], "expiresOn": stamp}))
    return 0


def _pwsh(config: dict, argv: list[str]) -> int:
    assert argv[:3] == ["-NoProfile", "-NonInteractive", "-EncodedCommand"], argv
    script = base64.b64decode(argv[3]).decode("utf-16-le")
    resource = re.search(r"'ResourceUrl' = '([^']*)'", script).group(1)
    tenant = re.search(r"\$tenantId = '([^']*)'", script).group(1) or None
    body = _token(config, f"{resource}/.default", tenant)
    expires_on = int(_claims(body["access_token"])["exp"])
    print(f"\nazsdk%{body['access_token']}%{expires_on}\n")
    return 0
