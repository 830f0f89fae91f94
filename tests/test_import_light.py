"""`import nbauth` must not pay for msal, azure-identity, azure-core or ipywidgets.

Checked in a fresh interpreter, because this test process has imported all of them already.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["msal", "azure.identity", "azure.core", "ipywidgets", "requests", "cryptography"]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_nbauth_imports_no_heavy_dependency():
    loaded = _modules_after("import nbauth")
    assert "nbauth" in loaded
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_public_names_resolve_lazily_and_pull_their_dependencies():
    loaded = _modules_after("import nbauth; nbauth.NotebookCredential")
    assert "azure.core" in loaded  # the lazy table really leads to the implementation


def test_every_public_name_resolves():
    import nbauth

    missing = [name for name in nbauth.__all__ if not hasattr(nbauth, name)]
    assert missing == []


def test_load_ext_imports_no_heavy_dependency():
    """`%load_ext nbauth` declares the magics without msal, azure-core or ipywidgets, and
    without even the magics' own modules: IPython imports those at the first magic. The
    first sign-in pays for the rest."""
    declared = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'nbauth')\n"
        "names = shell.magics_manager.magics['line']\n"
        "assert {'azlogin', 'azlogout', 'azwhoami', 'azaccount', 'azsubscription'} <= set(names)"
    )
    loaded = _modules_after(declared)
    assert "nbauth._magics" not in loaded
    assert sorted(m for m in [*HEAVY, "anywidget", "nbauth._session"] if m in loaded) == []

    # The first magic loads its class (and still no sign-in machinery for %azlogin?).
    loaded = _modules_after(declared + "\nshell.run_line_magic('pinfo', '%azlogin')")
    assert "nbauth._magics.azlogin" in loaded
    assert sorted(m for m in [*HEAVY, "anywidget", "nbauth._session"] if m in loaded) == []


def test_worker_side_is_light():
    """What a worker imports to unpickle a worker credential: none of msal, requests, azure-core,
    Dask or the session (azure-core comes with the first token)."""
    loaded = _modules_after(
        "import pickle\n"
        "from nbauth._worker_credential import WorkerCredential\n"
        "c = pickle.loads(pickle.dumps(WorkerCredential('g', ('s',), ('dask', 'tcp://x'))))"
    )
    heavy = [*HEAVY, "distributed", "dask", "nbauth._session", "nbauth._grants"]
    assert sorted(m for m in heavy if m in loaded) == []


def test_worker_credentials_never_import_dask_unless_it_is_in_use():
    loaded = _modules_after(
        "import nbauth\n"
        "nbauth.worker_credential, nbauth.async_worker_credential, nbauth.export_identity"
    )
    assert "nbauth._grants" in loaded
    assert sorted(m for m in ("distributed", "dask") if m in loaded) == []
