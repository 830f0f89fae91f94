"""The emulator's fault kinds the fault suite relies on: extra headers, a patch merged into the
real answer, a content type, a huge body. Plain HTTP to the emulator, no nbauth client code."""

from __future__ import annotations

import pytest
import requests

from nbauth.emulator import AdminCallError

CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def devicecode(emulator, **kwargs):
    return requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/devicecode",
        data={"client_id": CLI, "scope": "https://management.azure.com//.default"},
        verify=emulator["ca_bundle"],
        timeout=30,
        **kwargs,
    )


def test_headers_on_a_fault_answer(emulator, emu_admin):
    emu_admin.fault("devicecode", status=503, body={"error": "x"}, headers={"Retry-After": "7"})
    response = devicecode(emulator)
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    assert response.json() == {"error": "x"}


def test_patch_changes_fields_of_the_real_answer(emulator, emu_admin):
    emu_admin.fault(
        "devicecode", patch={"verification_uri": "javascript:x"}, headers={"X-Test": "1"}
    )
    patched = devicecode(emulator)
    assert patched.status_code == 200 and patched.headers["x-test"] == "1"
    body = patched.json()
    assert body["verification_uri"] == "javascript:x"
    assert body["user_code"] and body["device_code"]  # the rest is the real, working answer
    assert int(patched.headers["content-length"]) == len(patched.content)
    assert [p["user_code"] for p in emu_admin.pending()] == [body["user_code"]]
    assert devicecode(emulator).json()["verification_uri"].startswith("http://127.0.0.1:")


def test_headers_alone_are_added_to_the_real_answer(emulator, emu_admin):
    emu_admin.fault("devicecode", headers={"Retry-After": "3"})
    response = devicecode(emulator)
    assert response.status_code == 200 and response.headers["retry-after"] == "3"
    assert response.json()["user_code"]


def test_content_type_and_huge_bodies(emulator, emu_admin):
    emu_admin.fault("devicecode", status=200, body='{"a": ', content_type="application/json")
    response = devicecode(emulator)
    assert response.headers["content-type"] == "application/json" and response.text == '{"a": '

    emu_admin.fault("devicecode", status=200, body="ab", body_bytes=3_000_001)
    response = devicecode(emulator, stream=True)
    assert int(response.headers["content-length"]) == 3_000_001
    size = sum(len(chunk) for chunk in response.iter_content(1 << 16))
    assert size == 3_000_001


@pytest.mark.parametrize(
    "spec, says",
    [
        ({"headers": {"Retry-After": 5}}, "headers"),
        ({"headers": ["Retry-After"]}, "headers"),
        ({"patch": ["verification_uri"]}, "patch"),
        ({"status": 200, "content_type": 5}, "content_type"),
        ({"status": 200, "body_bytes": 0}, "body_bytes"),
        ({"status": 200, "body_bytes": True}, "body_bytes"),
        ({"count": 2}, "at least one of"),
    ],
)
def test_bad_fault_fields_are_refused(emulator, emu_admin, spec, says):
    with pytest.raises(AdminCallError, match=says):
        emu_admin.call("POST", "faults", {"endpoint": "token", **spec})
