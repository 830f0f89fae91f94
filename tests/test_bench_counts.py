"""The benchmark's request counts (refresh-storm, request-counts, paste-to-token, the worker
credential's rows), asserted exactly.

The measurements are the benchmark's own functions (benchmarks/refresh_storm.py,
benchmarks/request_counts.py, benchmarks/paste_back.py, benchmarks/workers.py), run against the
test emulator; only counts are asserted here, never timings.
"""

from __future__ import annotations

import pytest
from _emulator_process import AZURE_CLI_CLIENT_ID

from benchmarks import _setup, paste_back, refresh_storm, request_counts, workers


@pytest.fixture(autouse=True)
def _remove_bench_tmpdirs():
    yield
    _setup.remove_tmpdirs()


def test_64_threads_at_the_refresh_point_make_exactly_one_token_request(emulator, emu_admin):
    result = refresh_storm.storm_nbauth(emulator, emu_admin, threads=64)

    assert result.errors == 0
    assert result.token_requests == 1
    assert result.refresh_token_requests == 1
    # Everyone got a token: the refreshed one, or the still-valid one while the refresh ran.
    assert result.got_token == 64


def test_azlogin_request_counts_first_second_resource_second_sign_in(emulator, emu_admin):
    counts = request_counts.nbauth_counts(emulator, emu_admin, restarted_kernel=False)

    # OIDC discovery + the device code request, and nothing else, before the code is shown.
    assert counts.first_sign_in_until_code == 2
    # A second resource: one refresh-token grant.
    assert counts.second_resource == 1
    # %azlogin again in the same kernel: the account and its token are already held.
    assert counts.second_sign_in == 0


def test_restarted_kernel_with_a_persisted_cache_makes_at_most_one_request(emulator, emu_admin):
    count, note = request_counts.nbauth_restarted_kernel(emulator, emu_admin)

    assert count is not None, note
    assert count <= 1, note


def test_a_paste_back_sign_in_makes_one_token_request(emulator, emu_admin):
    run = paste_back.nbauth_paste_back(emu_admin, runs=1)

    # The person's browser: the sign-in page, then the account picked. The kernel: OIDC
    # discovery (msal builds the sign-in address from it) and exactly one token request.
    assert run.requests == [{"authorize": 2, "discovery": 1, "token": 1}]
    assert len(run.paste_to_token_ms) == 1


@pytest.mark.slow
def test_dask_workers_one_token_request_per_refresh_cycle_none_from_a_worker(emulator, emu_admin):
    tier = workers.run_tier(_setup.Bench(emulator, emu_admin), 2, calls=1_000)

    # Two workers, at least 3 refresh cycles: one request per cycle, the kernel's refresh token.
    assert tier.refreshes >= 3 and tier.token_requests == tier.refreshes
    assert tier.requesters == [f"refresh_token {AZURE_CLI_CLIENT_ID}"]
    # Every refreshed token reached both workers; none was ever given an expired one.
    assert len(tier.propagation_ms) >= 3 and tier.missed == 0
    assert tier.expired == 0 and tier.calls > 0
    # A service principal on each worker: each asks for itself, once per token lifetime.
    assert tier.baseline_requests_per_cycle == [2, 2]
    # azure-identity's DeviceCodeCredential pickled to a worker: no token travels, a device-code
    # sign-in nobody sees starts there, and fails.
    assert tier.device_code["device_code_requests"] == 1
    assert tier.device_code["outcome"] == "ClientAuthenticationError"
    assert tier.device_code["pickle_holds_the_token"] is False
    # The worker credential's pickle: a handle of at most 2 KiB (no token: pickled_sizes checks).
    assert tier.pickled and max(tier.pickled.values()) <= 2048
