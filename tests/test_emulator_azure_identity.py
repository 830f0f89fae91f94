"""azure-identity's own credentials accept what the emulator issues."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import jwt
from azure.identity import CertificateCredential, ClientSecretCredential, DeviceCodeCredential

ARM = "https://management.azure.com/.default"
STORAGE = "https://storage.azure.com/.default"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_device_code_credential_signs_in(emulator, emu_admin):
    emu_admin.settings(device_code_interval_s=1)
    prompts = []

    def prompt_callback(verification_uri, user_code, expires_on):
        prompts.append((verification_uri, user_code))
        # Approve from another thread, as a person would while the credential polls.
        threading.Thread(
            target=emu_admin.approve, args=("alice@contoso.example", user_code)
        ).start()

    credential = DeviceCodeCredential(
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        prompt_callback=prompt_callback,
        disable_instance_discovery=True,
    )
    token = credential.get_token(ARM)

    assert prompts[0][0] == emulator["device_login_url"]
    claims = _claims(token.token)
    assert claims["upn"] == "alice@contoso.example"
    assert claims["aud"] == "https://management.azure.com"
    assert claims["iat"] < token.expires_on <= claims["exp"] + 1
    # The next scope comes from the refresh token, without another prompt.
    assert _claims(credential.get_token(STORAGE).token)["aud"] == "https://storage.azure.com"
    assert len(prompts) == 1


def test_client_secret_credential(emulator, emu_admin):
    sp = emulator["service_principal"]
    credential = ClientSecretCredential(
        sp["tenant_id"], sp["client_id"], sp["client_secret"], disable_instance_discovery=True
    )
    claims = _claims(credential.get_token(STORAGE).token)
    assert claims["appid"] == sp["client_id"] and claims["appidacr"] == "1"


def test_certificate_credential(emulator, emu_admin):
    sp = emulator["service_principal"]
    credential = CertificateCredential(
        sp["tenant_id"], sp["client_id"], sp["certificate_path"], disable_instance_discovery=True
    )
    claims = _claims(credential.get_token(STORAGE).token)
    assert claims["appid"] == sp["client_id"]
    assert claims["appidacr"] == "2"  # certificate, as Entra marks it


def test_certificate_of_another_app_is_rejected(emulator, emu_admin, tmp_path):
    import trustme

    other = trustme.CA().issue_cert("stranger", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "stranger.pem"
    pem.write_bytes(other.private_key_pem.bytes() + other.cert_chain_pems[0].bytes())
    sp = emulator["service_principal"]
    credential = CertificateCredential(
        sp["tenant_id"], sp["client_id"], str(pem), disable_instance_discovery=True
    )
    try:
        credential.get_token(STORAGE)
    except Exception as exc:  # azure-identity raises ClientAuthenticationError
        assert "AADSTS700027" in str(exc)
    else:
        raise AssertionError("a certificate the app never registered must not sign in")


def test_env_points_a_fresh_process_at_the_emulator(emulator, emu_admin):
    """Only the ready file's env (plus the secret) is needed by a new azure-identity process."""
    sp = emulator["service_principal"]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(emulator["env"])
    env.update(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    code = (
        "import os, sys\n"
        "from azure.identity import ClientSecretCredential\n"
        "c = ClientSecretCredential(os.environ['AZURE_TENANT_ID'], os.environ['AZURE_CLIENT_ID'],"
        " os.environ['AZURE_CLIENT_SECRET'], disable_instance_discovery=True)\n"
        "t = c.get_token('https://storage.azure.com/.default')\n"
        "print('token-ok', t.expires_on > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "token-ok True"
    token_requests = [r for r in emu_admin.requests() if r["endpoint"] == "token"]
    assert [(r["grant_type"], r["client_id"]) for r in token_requests] == [
        ("client_credentials", sp["client_id"])
    ]
