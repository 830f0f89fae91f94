"""Start-up cost: what ``import nbauth`` and ``%load_ext nbauth`` add to a fresh process.

Whole processes, started and waited for, in interleaved rounds: bare interpreter, ``import
nbauth``, ``import azure.identity``, IPython's InteractiveShell alone and with ``%load_ext
nbauth``. ``-X importtime`` then names the modules nbauth's own import and ``%load_ext`` pay for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from . import _setup as S
from ._result import Row, fmt_ms, verdict
from ._stats import median, run_process

IMPORT_BUDGET_MS = 20.0
LOAD_EXT_BUDGET_MS = 50.0

_SHELL = (
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "shell = InteractiveShell.instance()\n"
)
PROGRAMS = {
    "bare interpreter": "pass",
    "import nbauth": "import nbauth",
    "import azure.identity": "import azure.identity",
    "IPython shell": _SHELL,
    "IPython shell + %load_ext nbauth": _SHELL + "shell.run_line_magic('load_ext', 'nbauth')\n",
}

CHEAP = ("bare interpreter", "import nbauth")


def _env() -> dict[str, str]:
    ipython_dir = S.bench_tmpdir("ipython")
    # A throwaway IPython profile: no user startup files, no history database in $HOME.
    return S.child_env({"IPYTHONDIR": str(ipython_dir), "PYTHONDONTWRITEBYTECODE": "1"})


def _importtime(code: str, env: dict[str, str]) -> dict[str, int]:
    """Cumulative import microseconds per top-level import made by `code` (``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out: dict[str, int] = {}
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(3)) == 1:  # direct imports of the program, not nested ones
            out[m.group(4)] = out.get(m.group(4), 0) + int(m.group(2))
    return out


def _new_modules(before: str, after: str, env: dict[str, str]) -> list[tuple[str, float]]:
    """Top-level imports `after` makes that `before` does not, costliest first (ms)."""
    base = _importtime(before, env)
    extra = _importtime(after, env)
    return sorted(
        ((name, us / 1000) for name, us in extra.items() if name not in base),
        key=lambda kv: -kv[1],
    )


def measure(bench: S.Bench) -> Row:
    row = Row(
        "startup-cost",
        "`import nbauth` / `%load_ext nbauth`, whole process",
        "bare interpreter; `import azure.identity`; IPython alone",
        f"import adds <= {IMPORT_BUDGET_MS:g} ms; %load_ext adds <= {LOAD_EXT_BUDGET_MS:g} ms",
    )
    env = _env()
    runs = bench.scaled(15, 5)
    times: dict[str, list[float]] = {name: [] for name in PROGRAMS}
    for code in PROGRAMS.values():  # warm the page cache once, untimed
        run_process([sys.executable, "-c", code], env=env)
    for i in range(runs * 2):
        for name, code in PROGRAMS.items():
            # The short programs get twice the runs: their difference is the smallest number.
            if i < runs or name in CHEAP:
                times[name].append(run_process([sys.executable, "-c", code], env=env))
    med = {name: round(median(values), 1) for name, values in times.items()}
    import_cost = med["import nbauth"] - med["bare interpreter"]
    load_ext_cost = med["IPython shell + %load_ext nbauth"] - med["IPython shell"]
    azure_cost = med["import azure.identity"] - med["bare interpreter"]

    nbauth_modules = _importtime("import nbauth", env)
    load_ext_modules = _new_modules(
        PROGRAMS["IPython shell"], PROGRAMS["IPython shell + %load_ext nbauth"], env
    )
    row.data = {
        "runs": runs,
        "median_ms": med,
        "all_ms": {k: [round(v, 1) for v in vs] for k, vs in times.items()},
        "import_nbauth_adds_ms": round(import_cost, 1),
        "load_ext_adds_ms": round(load_ext_cost, 1),
        "import_azure_identity_adds_ms": round(azure_cost, 1),
        "importtime_nbauth_ms": round(nbauth_modules.get("nbauth", 0) / 1000, 1),
        "importtime_load_ext_new_top_level_ms": [
            (name, round(ms, 1)) for name, ms in load_ext_modules[:8]
        ],
    }
    row.nbauth = (
        f"import {import_cost:+.1f} ms (-X importtime: {row.data['importtime_nbauth_ms']} ms); "
        f"%load_ext {load_ext_cost:+.0f} ms"
    )
    row.baseline = (
        f"bare interpreter {fmt_ms(med['bare interpreter'])}; import azure.identity "
        f"{azure_cost:+.0f} ms; IPython alone {fmt_ms(med['IPython shell'])}"
    )
    row.status = verdict(import_cost <= IMPORT_BUDGET_MS and load_ext_cost <= LOAD_EXT_BUDGET_MS)
    if load_ext_modules:
        row.notes.append(
            "%load_ext imports (top-level, importtime): "
            + ", ".join(f"{n} {ms:.0f} ms" for n, ms in load_ext_modules[:5])
        )
    row.notes.append(
        f"medians of {runs} runs ({2 * runs} for the bare interpreter and import nbauth); "
        "differences of medians of whole processes: a few ms either way is noise here"
    )
    return row


if __name__ == "__main__":  # pragma: no cover - handy alone: python -m benchmarks.startup
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    print(measure(S.Bench(info={}, admin=None)).to_json())
