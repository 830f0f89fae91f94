"""`make demo` as a person runs it: the URL it prints answers at once, JupyterLab shows no news
pop-up over the card, and however the demo ends, nothing it started outlives it.

The demo runs as a real subprocess (its own process group, a free port on 127.0.0.1, a temp
workdir, no browser). The processes it starts are found by walking /proc for its descendants
while it runs, and by their command lines, which name the workdir, once it has ended.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parent.parent / "tools" / "demo.py"
START_TIMEOUT_S = 180  # emulator, Azurite and JupyterLab on two shared cores
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _descendants(root: int) -> dict[tuple[int, int], str]:
    """Every process whose parent chain leads to `root`: (pid, start time) -> command line."""
    children: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None:
            children[stat[1]].append((pid, stat[2]))
    found, todo = {}, [root]
    while todo:
        for pid, started in children.get(todo.pop(), []):
            found[(pid, started)] = _cmdline(pid)
            todo.append(pid)
    return found


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)  # the start time tells a reused pid apart; a zombie has ended
    return stat is not None and stat[2] == started and stat[0] != "Z"


class Demo:
    """tools/demo.py in its own process group, its output read line by line, its descendants
    recorded each time the test waits for something."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.workdir = tmp_path / "demo"
        self.proc = subprocess.Popen(
            [sys.executable, str(DEMO), "--workdir", str(self.workdir), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime")},
        )
        self.started: dict[tuple[int, int], str] = {}
        self.output: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def _record(self) -> None:
        for key, cmd in _descendants(self.proc.pid).items():
            if cmd or key not in self.started:  # an exiting process's command line reads empty
                self.started[key] = cmd
        while not self._lines.empty():
            self.output.append(self._lines.get())

    def wait_for(self, done, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not done():
            assert self.proc.poll() is None, f"the demo exited before {what}:\n{self.text}"
            assert time.monotonic() < deadline, f"no {what} in {START_TIMEOUT_S} s:\n{self.text}"
            self._record()
            time.sleep(0.02)
        self._record()

    def commands(self, part: str) -> list[str]:
        return [cmd for cmd in self.started.values() if part in cmd]

    def url(self) -> str:
        self.wait_for(lambda: "JupyterLab: http" in self.text, "JupyterLab URL")
        line = next(line for line in self.output if "JupyterLab: http" in line)
        return line.split("JupyterLab: ", 1)[1].strip()

    def end(self, timeout: float = 60) -> int:
        """Wait for the demo to exit, recording what it starts meanwhile; its exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the demo did not exit:\n{self.text}"
            self._record()
            time.sleep(0.02)
        time.sleep(0.5)  # let the reader thread take the last lines
        self._record()
        return self.proc.returncode

    def leftovers(self) -> list[str]:
        """Processes still running that the demo started: seen under it, or naming its workdir
        (an orphan is re-parented away from the demo, but its command line still names it)."""
        seen = [cmd for (pid, started), cmd in self.started.items() if _alive(pid, started)]
        named = [_cmdline(pid) for pid in _pids() if str(self.workdir) in _cmdline(pid)]
        return sorted(set(seen + named))

    def kill_leftovers(self) -> None:
        """Whatever a failed test leaves behind must not keep running on a shared machine."""
        pids = [pid for pid, started in self.started if _alive(pid, started)]
        if self.proc.poll() is None:
            pids.append(self.proc.pid)
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory):
    """The demo up on a free port; its URL fetched the moment it is printed, once, no retry."""
    demo = Demo(tmp_path_factory.mktemp("demo-up"), "--port", "0")
    try:
        demo.first_url = demo.url()
        try:
            with NO_PROXY.open(demo.first_url, timeout=30) as response:
                demo.first_answer = response.status
        except OSError as exc:
            demo.first_answer = exc
        yield demo
    finally:
        demo.kill_leftovers()


def test_the_url_printed_answers_on_the_first_try(running_demo):
    assert running_demo.first_url.startswith("http://127.0.0.1:")
    assert running_demo.first_answer == 200


def test_jupyterlab_does_not_offer_the_news_popup(running_demo):
    """The pop-up shows while `fetchNews` is "none"; the demo's own config says "false", and
    no user setting of the person's own is read (the demo has its own JUPYTER_CONFIG_DIR)."""
    url = running_demo.first_url
    base, token = url.split("/lab/", 1)[0], url.split("token=", 1)[1]
    request = urllib.request.Request(
        f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification",
        headers={"Authorization": f"token {token}"},
    )
    with NO_PROXY.open(request, timeout=30) as response:
        setting = json.load(response)
    assert setting["schema"]["properties"]["fetchNews"]["default"] == "false"
    assert setting["settings"] == {}


def test_sigterm_stops_every_process_the_demo_started(running_demo):
    demo = running_demo
    assert demo.commands("nbauth.emulator") and demo.commands("azurite") and demo.commands("lab")

    os.kill(demo.proc.pid, signal.SIGTERM)

    code = demo.end()
    assert demo.leftovers() == []
    assert code == 0


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: signal.Signals(s).name
)
def test_a_signal_during_start_up_leaves_nothing_running(tmp_path, signum):
    """Right after the emulator starts, before Azurite or JupyterLab: a signal's default action
    (SIGTERM, SIGHUP) ended the demo at once and left the emulator, in its own session, running."""
    demo = Demo(tmp_path, "--port", "0")
    try:
        demo.wait_for(lambda: demo.commands("nbauth.emulator"), "emulator process")

        os.kill(demo.proc.pid, signum)

        code = demo.end()
        assert demo.leftovers() == []
        assert code == 0, demo.text
        assert "Stopping the demo" in demo.text
    finally:
        demo.kill_leftovers()


def test_a_busy_port_ends_the_demo_with_its_reason_and_leaves_nothing(tmp_path):
    """JupyterLab on another port than the one asked for would not be the URL printed: the demo
    says why it stops, and stops what it had started."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        demo = Demo(tmp_path, "--port", str(busy.getsockname()[1]))
        try:
            assert demo.end(timeout=START_TIMEOUT_S) == 1
            assert "JupyterLab exited with code 1 before it answered" in demo.text
            assert demo.commands("nbauth.emulator") and demo.commands("azurite")
            assert demo.leftovers() == []
        finally:
            demo.kill_leftovers()


def _make_demo_args(*variables: str) -> list[str]:
    """The arguments `make demo VARIABLE=...` gives tools/demo.py (make -n: nothing runs)."""
    root = DEMO.parent.parent
    plan = subprocess.run(
        ["make", "-n", "-s", "demo", *variables],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    line = next(line for line in plan.splitlines() if "tools/demo.py" in line)
    words = shlex.split(line)
    return words[words.index("tools/demo.py") + 1 :]


@pytest.mark.parametrize(
    ("variables", "env", "where"),
    [
        (["BLOCK_DEVICE_CODE=1"], {}, "every tenant"),
        ([], {"NBAUTH_EMULATOR_BLOCK_DEVICE_CODE": "contoso.example"}, "contoso.example"),
    ],
    ids=["make-variable", "emulator-variable"],
)
def test_a_demo_with_device_code_blocked_says_so_and_how_to_sign_in(
    tmp_path, monkeypatch, variables, env, where
):
    """`make demo BLOCK_DEVICE_CODE=1` (or the emulator's own variable) reaches the emulator,
    whose settings then refuse device code there; the start-up text says so and how to sign
    in instead. Plain `make demo` passes nothing new."""
    from nbauth.emulator import EmulatorAdmin

    assert _make_demo_args() == []
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    demo = Demo(tmp_path, *_make_demo_args(*variables), "--no-lab")
    try:
        demo.wait_for(lambda: "Press Ctrl-C" in demo.text, "the start-up text")
        info = json.loads((demo.workdir / "emulator.json").read_text())
        blocked = EmulatorAdmin(info["admin_url"]).settings()["block_device_code"]
        assert blocked == (True if where == "every tenant" else [where])
        assert f"device code: BLOCKED by Conditional Access in {where}" in demo.text
        assert "%azlogin --method browser" in demo.text and "plain `%azlogin`" in demo.text

        os.kill(demo.proc.pid, signal.SIGTERM)

        assert demo.end() == 0
        assert demo.leftovers() == []
    finally:
        demo.kill_leftovers()
