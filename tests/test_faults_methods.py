"""Bad input to the non-interactive sign-in methods: environment variables half set, a malformed
or world-readable JSON auth file, a developer tool (az, azd, pwsh) that hangs or prints tokens on
stderr. Safe behaviour: a fast, clear error that names the variable, file or field (never a
value), no secret in any message, warning or DEBUG log, and no token request when the input is
incomplete.
"""

from __future__ import annotations

import json
import stat
import sys
import warnings

import pytest
from _audit_fixtures import debug_log_fixture, token_calls  # noqa: F401 - fixture
from _service_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    service_env_fixture,
    svc_session_fixture,
    user_login,
)
from fixtures.fake_tokens import METHODS_CANARY

from nbauth._errors import NbauthError

FAKE_JWT = METHODS_CANARY


def assert_says_without_values(error: BaseException, names: list[str], values: list[str]) -> None:
    texts = [str(error), repr(error), str(error.__cause__ or "")]
    blob = "\n".join(texts)
    for name in names:
        assert name in blob, f"the error should name {name}: {blob}"
    for value in values:
        assert value not in blob, "the error echoes a value it was given"


# -- environment variables half set -----------------------------------------------------------


@pytest.mark.parametrize(
    "present, missing",
    [
        (("AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"), "AZURE_CLIENT_ID"),
        (("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"), "AZURE_TENANT_ID"),
        (("AZURE_TENANT_ID", "AZURE_CLIENT_ID"), "AZURE_CLIENT_SECRET"),
    ],
    ids=["no-client-id", "no-tenant", "no-secret-or-certificate"],
)
def test_environment_half_set_names_the_missing_variable(
    emulator, emu_admin, service_env, svc_session, debug_log, present, missing
):
    sp = emulator["service_principal"]
    values = {
        "AZURE_TENANT_ID": sp["tenant_id"],
        "AZURE_CLIENT_ID": sp["client_id"],
        "AZURE_CLIENT_SECRET": sp["client_secret"],
    }
    service_env.set(**{name: values[name] for name in present})

    with pytest.raises(NbauthError) as caught:
        svc_session.login("environment")

    assert_says_without_values(caught.value, [missing], [sp["client_secret"], sp["client_id"]])
    assert token_calls(emu_admin) == []  # failed before asking anyone
    assert sp["client_secret"] not in debug_log.text


def test_environment_certificate_path_that_does_not_exist(
    emulator, emu_admin, service_env, svc_session, tmp_path
):
    sp = emulator["service_principal"]
    missing = tmp_path / "no-such-cert.pem"
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_CERTIFICATE_PATH=str(missing),
        AZURE_CLIENT_CERTIFICATE_PASSWORD="cert-Passw0rd-canary",
    )
    with pytest.raises(NbauthError) as caught:
        svc_session.login("environment")
    assert_says_without_values(
        caught.value, ["AZURE_CLIENT_CERTIFICATE_PATH"], ["cert-Passw0rd-canary"]
    )
    assert token_calls(emu_admin) == []


# -- JSON auth files --------------------------------------------------------------------------


def write(path, text: str, mode: int = 0o600):
    path.write_text(text)
    path.chmod(mode)
    return path


def sdk_auth(emulator) -> dict:
    sp = emulator["service_principal"]
    return {
        "clientId": sp["client_id"],
        "clientSecret": sp["client_secret"],
        "subscriptionId": "c0a50001-0000-4000-8000-000000000001",
        "tenantId": sp["tenant_id"],
        "activeDirectoryEndpointUrl": emulator["authority_host"],
        "resourceManagerEndpointUrl": emulator["arm_endpoint"],
    }


@pytest.mark.parametrize(
    "mangle, names",
    [
        (lambda text: text[: len(text) // 2], ["sdk-auth.json"]),  # truncated JSON
        (lambda text: text.replace('"clientSecret"', '"clientSecrett"'), ["clientSecret"]),
        (lambda text: json.dumps([json.loads(text)]), ["sdk-auth.json"]),  # not an object
        (lambda text: "\ufeffclientSecret=" + text, ["sdk-auth.json"]),  # not JSON at all
    ],
    ids=["truncated", "missing-field", "array", "not-json"],
)
def test_malformed_auth_file_names_the_file_or_field_never_a_value(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds, debug_log, mangle, names
):
    sp = emulator["service_principal"]
    text = mangle(json.dumps(sdk_auth(emulator), indent=2))
    path = write(tmp_path / "sdk-auth.json", text)

    with pytest.raises(NbauthError) as caught:
        svc_session.login("auth_file", auth_file=str(path))

    assert_says_without_values(caught.value, names, [sp["client_secret"]])
    assert token_calls(emu_admin) == []
    assert sp["client_secret"] not in debug_log.text


def test_auth_file_with_a_wrong_type_names_the_field(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds
):
    fields = sdk_auth(emulator)
    fields["clientId"] = 12345678
    path = write(tmp_path / "sdk-auth.json", json.dumps(fields))
    with pytest.raises(NbauthError) as caught:
        svc_session.login("auth_file", auth_file=str(path))
    assert_says_without_values(caught.value, ["clientId"], [fields["clientSecret"], "12345678"])


def test_world_readable_auth_file_warns_naming_the_file_only(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds, debug_log
):
    sp = emulator["service_principal"]
    path = write(tmp_path / "sdk-auth.json", json.dumps(sdk_auth(emulator)), mode=0o644)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signin = svc_session.login("auth_file", auth_file=str(path))
    ours = [w for w in caught if "sdk-auth.json" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    message = str(ours[0].message)
    assert "readable" in message.lower() and sp["client_secret"] not in message
    assert signin.status == "succeeded"  # a warning, not a refusal
    assert sp["client_secret"] not in debug_log.text


# -- developer tools that misbehave ----------------------------------------------------------

TOOLS = {"azure_cli": "az", "azd": "azd", "powershell": "pwsh"}


def install_script(bin_dir, name: str, body: str):
    script = bin_dir / name
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.mark.parametrize("method", sorted(TOOLS))
def test_a_tool_that_hangs_is_given_up_on(method, service_env, svc_session):
    install_script(service_env.bin, TOOLS[method], "time.sleep(600)")
    with pytest.raises(NbauthError) as caught:
        svc_session.login(method, process_timeout=1)
    message = str(caught.value)
    assert svc_session.account is None
    assert (
        "process_timeout" in message
        or "did not answer" in message
        or "timed out" in message.lower()
    ), message


@pytest.mark.parametrize("method", sorted(TOOLS))
def test_a_tool_that_prints_tokens_on_stderr_does_not_leak_them(
    method, emulator, emu_admin, service_env, svc_session, debug_log
):
    refresh_token = user_login(emulator)["refresh_token"]  # a real, issued refresh token
    install_script(
        service_env.bin,
        TOOLS[method],
        f"sys.stderr.write('ERROR: request failed; token {FAKE_JWT} refresh {refresh_token}\\n')\n"
        "sys.exit(1)",
    )
    with pytest.raises(NbauthError) as caught:
        svc_session.login(method)
    texts = [str(caught.value), repr(caught.value), debug_log.text]
    blob = "\n".join(texts)
    assert FAKE_JWT not in blob and refresh_token not in blob
    assert svc_session.account is None


@pytest.mark.parametrize("method", sorted(TOOLS))
def test_a_tool_that_prints_a_broken_answer_with_a_token_does_not_leak_it(
    method, service_env, svc_session, debug_log
):
    answer = json.dumps({"accessToken": FAKE_JWT, "token": FAKE_JWT, "expiresOn": "whenever"})
    install_script(
        service_env.bin, TOOLS[method], f"print({answer!r})\nprint('azsdk%{FAKE_JWT}%soon')"
    )
    with pytest.raises(NbauthError) as caught:
        svc_session.login(method)
    blob = "\n".join([str(caught.value), repr(caught.value), debug_log.text])
    assert FAKE_JWT not in blob
    assert svc_session.account is None


# -- a server error while signing in --------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Username/password sign-in is deprecated:FutureWarning")
def test_a_server_error_during_a_password_sign_in_is_said_in_words(emu_admin, svc_session):
    """msal raises its own MsalServiceError ("HTTP Error: 500") for a 5xx token answer; the
    person gets nbauth's sentence instead, as for every other method."""
    from _service_fixtures import ALICE_PASSWORD

    from nbauth._errors import AuthenticationError

    emu_admin.fault("token", status=500, body={"error": "server_error"})

    with pytest.raises(AuthenticationError, match="server error") as caught:
        svc_session.login(
            "username_password", username="alice@contoso.example", password=ALICE_PASSWORD
        )

    assert "try again" in str(caught.value) and ALICE_PASSWORD not in str(caught.value)
    assert [c["status"] for c in token_calls(emu_admin)] == [500]
