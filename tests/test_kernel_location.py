"""Where the kernel runs: each remote marker, the local cases and the override."""

from __future__ import annotations

import pytest

from nbauth._kernel_location import KernelLocation, detect

DESKTOP_LINUX = {"DISPLAY": ":0", "HOME": "/home/me"}
NATIVE_LINUX = "Linux version 6.8.0-45-generic (buildd@lcy02) (gcc 13.2.0) #45-Ubuntu SMP"
WSL2_LINUX = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc 11.2.0)"


@pytest.mark.parametrize(
    ("extra", "words", "kind"),
    [
        (
            {"JUPYTERHUB_API_URL": "http://hub:8081/hub/api"},
            "JupyterHub (JUPYTERHUB_API_URL",
            "jupyterhub",
        ),
        ({"JUPYTERHUB_USER": "me"}, "JupyterHub (JUPYTERHUB_USER", "jupyterhub"),
        ({"BINDER_SERVICE_HOST": "10.0.0.1"}, "Binder", "binder"),
        ({"BINDER_REPO_URL": "https://github.com/o/r"}, "Binder", "binder"),
        ({"CODESPACES": "true"}, "GitHub Codespaces", "codespaces"),
        ({"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.3 22"}, "an SSH session (SSH_CONNECTION", "ssh"),
        ({"SSH_CLIENT": "10.0.0.2 50000 22"}, "an SSH session (SSH_CLIENT", "ssh"),
        ({"AZUREML_RUN_ID": "run-1"}, "Azure Machine Learning compute (AZUREML_RUN_ID", "azureml"),
        (
            {"CI_NAME": "my-ci", "CI_WORKSPACE": "ws"},
            "Azure Machine Learning compute (CI_NAME",
            "azureml",
        ),
    ],
)
def test_each_remote_marker_is_remote_and_named(extra, words, kind):
    where = detect({**DESKTOP_LINUX, **extra}, platform="linux", proc_version=NATIVE_LINUX)
    assert where.local is False and where.kind == kind
    assert words in where.reason
    assert str(where).startswith("remote: ")


def test_a_generic_ci_variable_alone_is_not_azure_ml():
    # GitLab and others set CI_* too; only CI_NAME together with CI_WORKSPACE means Azure ML.
    where = detect({**DESKTOP_LINUX, "CI_NAME": "job"}, platform="linux", proc_version=NATIVE_LINUX)
    assert where == KernelLocation(True, "this machine")


def test_empty_marker_values_do_not_count():
    where = detect(
        {**DESKTOP_LINUX, "SSH_CONNECTION": "", "JUPYTERHUB_USER": ""},
        platform="linux",
        proc_version=NATIVE_LINUX,
    )
    assert where.local is True


def test_wsl_is_remote_because_the_browser_is_on_windows():
    where = detect(DESKTOP_LINUX, platform="linux", proc_version=WSL2_LINUX)
    assert where.local is False and where.reason.startswith("WSL") and where.kind == "wsl"


@pytest.mark.parametrize("display", ["DISPLAY", "WAYLAND_DISPLAY"])
def test_linux_desktop_with_a_display_is_local(display):
    where = detect({display: ":0"}, platform="linux", proc_version=NATIVE_LINUX)
    assert where.local is True and where.reason == "this machine"


def test_linux_without_a_display_is_remote():
    where = detect({"HOME": "/root"}, platform="linux", proc_version=NATIVE_LINUX)
    assert where.local is False and "DISPLAY is not set" in where.reason
    assert where.kind == "no-display"


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_need_no_display_variable(platform):
    assert detect({}, platform=platform, proc_version="").local is True


def test_remote_markers_win_on_macos_too():
    where = detect({"SSH_TTY": "/dev/ttys001"}, platform="darwin", proc_version="")
    assert where.local is False and "SSH" in where.reason


@pytest.mark.parametrize(("value", "local"), [("local", True), ("REMOTE", False)])
def test_override_variable_wins_over_every_guess(value, local):
    env = {"NBAUTH_KERNEL_LOCATION": value, "JUPYTERHUB_USER": "me"}
    where = detect(env, platform="linux", proc_version=WSL2_LINUX)
    assert where.local is local
    assert where.reason == f"NBAUTH_KERNEL_LOCATION={value.lower()}"


def test_unknown_override_value_is_ignored():
    where = detect(
        {"NBAUTH_KERNEL_LOCATION": "moon", "DISPLAY": ":0"},
        platform="linux",
        proc_version=NATIVE_LINUX,
    )
    assert where.local is True


def test_defaults_read_this_process(monkeypatch):
    # The real os.environ / sys.platform / /proc/version are read when nothing is passed.
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")
    assert detect() == KernelLocation(False, "NBAUTH_KERNEL_LOCATION=remote", "override")
