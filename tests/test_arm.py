"""The Resource Manager client: azure-core pipeline + the kernel credential against the
emulator's ARM subset (real HTTPS, real tokens)."""

from __future__ import annotations

import socket

import pytest
from _accounts_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    CONTOSO,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    alice_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    requests_of,
    seeded_subscriptions,
    token_requests,
)

from nbauth._arm import API_VERSION, ResourceManagerClient, ResourceManagerError, TenantCredential
from nbauth._errors import AuthenticationRequired


def test_lists_tenants_with_the_kernel_credential(alice, emulator):
    with ResourceManagerClient(alice) as arm:
        assert arm.endpoint == emulator["arm_endpoint"]
        items = arm.list("/tenants")
    assert {i["tenantId"] for i in items} == {CONTOSO, FABRIKAM}


def test_subscriptions_of_the_bound_tenant(alice, admin):
    expected = seeded_subscriptions(ALICE)
    for tenant in (CONTOSO, FABRIKAM):
        with ResourceManagerClient(alice, tenant_id=tenant) as arm:
            items = arm.list("/subscriptions")
        assert {i["subscriptionId"] for i in items} == set(expected[tenant])


def test_token_is_asked_once_per_client_and_tenant(alice, admin):
    admin.clear_requests()
    with ResourceManagerClient(alice, tenant_id=FABRIKAM) as arm:
        arm.list("/subscriptions")
        arm.list("/subscriptions")
        arm.get("/tenants")
    grants = token_requests(admin, "refresh_token")
    assert len(grants) == 1 and FABRIKAM in grants[0]["path"]
    assert len(requests_of(admin, "arm")) == 3


def test_follows_next_link_on_the_same_host(alice, admin, emulator):
    first_page = {
        "value": [
            {"subscriptionId": "11111111-0000-4000-8000-000000000001", "displayName": "Page one"}
        ],
        "nextLink": f"{emulator['arm_endpoint']}subscriptions?api-version={API_VERSION}&page=2",
    }
    admin.fault("arm", status=200, body=first_page, count=1)
    admin.clear_requests()
    with ResourceManagerClient(alice) as arm:
        items = arm.list("/subscriptions")
    names = [i["displayName"] for i in items]
    assert names[0] == "Page one"
    assert set(names[1:]) == set(seeded_subscriptions(ALICE)[CONTOSO].values())
    assert len(requests_of(admin, "arm")) == 2


def test_refuses_a_next_link_to_another_host(alice, admin):
    admin.fault(
        "arm",
        status=200,
        body={"value": [], "nextLink": "https://attacker.invalid/subscriptions?page=2"},
        count=1,
    )
    with ResourceManagerClient(alice) as arm, pytest.raises(ResourceManagerError) as info:
        arm.list("/subscriptions")
    assert "attacker.invalid" in str(info.value)
    assert "does not send your token" in str(info.value)


def test_arm_error_becomes_resource_manager_error_with_guidance(alice, admin):
    admin.fault(
        "arm",
        status=403,
        body={
            "error": {
                "code": "AuthorizationFailed",
                "message": "The client does not have authorization to perform action.",
            }
        },
        count=1,
    )
    with (
        ResourceManagerClient(alice, retry_total=0) as arm,
        pytest.raises(ResourceManagerError) as info,
    ):
        arm.list("/subscriptions")
    exc = info.value
    assert exc.status_code == 403 and exc.code == "AuthorizationFailed"
    assert "Reader" in exc.guidance
    assert (
        str(exc)
        .splitlines()[0]
        .startswith("Azure Resource Manager refused the request (HTTP 403).")
    )
    assert_no_secret_in([str(exc), repr(exc)], issued_secrets(admin))


def test_token_for_the_wrong_audience_is_explained(alice, admin):
    # A real 401 from the emulator's token check: a storage token is not for ARM.
    with ResourceManagerClient(alice, scope=STORAGE_SCOPE, retry_total=0) as arm:
        with pytest.raises(ResourceManagerError) as info:
            arm.list("/tenants")
    exc = info.value
    assert exc.status_code == 401
    assert exc.code == "InvalidAuthenticationTokenAudience"
    assert "cloud" in exc.guidance
    assert_no_secret_in([str(exc), repr(exc)], issued_secrets(admin))


def test_unknown_subscription_is_a_real_arm_404(alice, admin):
    with (
        ResourceManagerClient(alice, retry_total=0) as arm,
        pytest.raises(ResourceManagerError) as info,
    ):
        arm.get("/subscriptions/00000000-0000-4000-8000-00000000dead")
    exc = info.value
    assert (exc.status_code, exc.code) == (404, "SubscriptionNotFound")
    assert "%azsubscription --list" in exc.guidance
    assert exc.request_id and exc.request_id in str(exc)  # ARM's x-ms-request-id, for support


def test_transient_server_error_is_retried(alice, admin):
    admin.fault(
        "arm", status=503, body={"error": {"code": "ServerBusy", "message": "busy"}}, count=1
    )
    admin.clear_requests()
    with ResourceManagerClient(alice, retry_total=1) as arm:
        items = arm.list("/tenants")
    assert len(items) == 2
    assert [r["status"] for r in requests_of(admin, "arm")] == [503, 200]


def test_unreachable_endpoint(alice):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ResourceManagerClient(alice, endpoint=f"https://127.0.0.1:{port}/", retry_total=0) as arm:
        with pytest.raises(ResourceManagerError) as info:
            arm.list("/tenants")
    assert info.value.status_code is None
    assert "Could not reach Azure Resource Manager" in str(info.value)


def test_answer_that_is_not_json(alice, admin):
    admin.fault("arm", status=200, body="<html>proxy login</html>", count=1)
    with ResourceManagerClient(alice) as arm, pytest.raises(ResourceManagerError) as info:
        arm.list("/tenants")
    assert "not JSON" in str(info.value)


def test_nobody_signed_in_raises_authentication_required(nbsession, admin):
    with ResourceManagerClient(nbsession) as arm, pytest.raises(AuthenticationRequired) as info:
        arm.list("/tenants")
    assert "%azlogin" in str(info.value)
    assert requests_of(admin, "arm") == []


def test_tenant_credential_passes_the_tenant(alice):
    cred = TenantCredential(alice.credential(), FABRIKAM)
    from _core_fixtures import ARM_SCOPE, jwt_claims

    assert jwt_claims(cred.get_token(ARM_SCOPE).token)["tid"] == FABRIKAM
    assert jwt_claims(cred.get_token_info(ARM_SCOPE).token)["tid"] == FABRIKAM
    assert repr(cred) == f"<TenantCredential tenant_id='{FABRIKAM}'>"


def test_an_absurdly_nested_answer_is_a_resource_manager_error(alice, admin):
    """JSON nested deeper than Python's recursion limit: one clear error, not a traceback."""
    admin.fault("arm", status=200, body="[" * 200_000 + "]" * 200_000, count=1)
    with ResourceManagerClient(alice) as client, pytest.raises(ResourceManagerError) as caught:
        client.list("/tenants")
    assert "not JSON" in str(caught.value)
