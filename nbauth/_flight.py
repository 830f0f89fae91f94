"""Work that holds secrets runs in a thread of its own; callers only wait for its outcome.

Why: the stop button raises ``KeyboardInterrupt`` in whatever frame the kernel's main thread is
running. If that is one of msal's (or azure-identity's) frames, the traceback shows it, and under
``%xmode Verbose`` it prints every variable of every frame: refresh tokens, client secrets,
request bodies. A caller that only waits on a `Flight` is interrupted in a frame of nbauth's,
which holds none of them; the work itself finishes anyway (its result is kept for the next call).

An exception that the work raised reaches the waiting caller without the worker's frames (their
variables are exactly what must not be shown); the full traceback, without variables and through
the redacting log filter, goes to the ``nbauth`` logger at DEBUG.

Async callers do not occupy a thread to wait: `wait_async` parks on a done-callback, and a
cancelled await (``asyncio.wait_for`` timing out) removes its callback and frees everything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Flight", "launch", "scrubbed"]

_LOGGER = logging.getLogger("nbauth")

T = TypeVar("T")

# Waiting in short slices keeps a blocked main thread responsive to KeyboardInterrupt (a kernel
# interrupt, or _thread.interrupt_main), which an untimed lock wait is not everywhere.
_WAIT_SLICE_S = 0.1


class Flight(Generic[T]):
    """One piece of work in flight, and everyone waiting for it."""

    __slots__ = ("_done", "_lock", "_callbacks", "_result", "_error")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Flight[T]], object]] = []
        self._result: T | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "done" if self._done.is_set() else "in flight"
        return f"<nbauth Flight {state}>"

    def done(self) -> bool:
        return self._done.is_set()

    def finish(self, result: T | None = None, error: BaseException | None = None) -> None:
        """Settle the flight (once; later calls are ignored) and wake every waiter."""
        with self._lock:
            if self._done.is_set():
                return
            self._result, self._error = result, error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            _run_callback(fn, self)

    def add_done_callback(self, fn: Callable[[Flight[T]], object]) -> None:
        """Call ``fn(flight)`` once settled: from the settling thread, or now if settled."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        _run_callback(fn, self)

    def remove_done_callback(self, fn: Callable[[Flight[T]], object]) -> None:
        with self._lock:
            if fn in self._callbacks:
                self._callbacks.remove(fn)

    def outcome(self) -> T:
        """The result, or the error raised afresh (without the frames it was raised in)."""
        if self._error is not None:
            raise self._error.with_traceback(None)
        return self._result  # type: ignore[return-value]

    def wait(self) -> T:
        """Block until settled; the stop button interrupts this wait, never the work."""
        while not self._done.wait(_WAIT_SLICE_S):
            pass
        return self.outcome()

    async def wait_async(self) -> T:
        """Await the outcome without occupying a thread (see the module docstring)."""
        await until_done(self.add_done_callback, self.remove_done_callback)
        return self.outcome()


async def until_done(
    subscribe: Callable[[Callable[[Any], object]], object],
    unsubscribe: Callable[[Callable[[Any], object]], object],
) -> None:
    """Await a thread-settled event through its done-callback; a cancelled await unsubscribes."""
    import asyncio  # Lazy load: only async callers pay for it.

    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def wake_if_waiting(_: asyncio.Future[None]) -> None:
        if not woken.done():
            woken.set_result(None)

    def wake(_: object) -> None:
        try:
            loop.call_soon_threadsafe(wake_if_waiting, woken)
        except RuntimeError:
            pass  # the loop closed while the work was in flight: nobody is waiting

    subscribe(wake)
    try:
        await woken
    finally:
        unsubscribe(wake)


def launch(work: Callable[[], T], *, name: str) -> Flight[T]:
    """Run `work` in a new daemon thread; its return value or exception settles the flight."""
    flight: Flight[T] = Flight()

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - the flight must always settle
            flight.finish(error=scrubbed(exc))
        else:
            flight.finish(result=result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return flight


def scrubbed(exc: BaseException) -> BaseException:
    """`exc` without the frames it crossed (see the module docstring); returns `exc`.

    A context that `raise ... from None` suppressed is dropped too: it is never shown, and it
    would keep those frames (and the secrets in their variables) alive.
    """
    if _LOGGER.isEnabledFor(logging.DEBUG):
        _LOGGER.debug("work in a background thread failed", exc_info=exc)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        if current.__suppress_context__:
            current.__context__ = None
        current = current.__cause__ or current.__context__
    return exc


def _run_callback(fn: Callable[[Any], object], flight: Flight[Any]) -> None:
    try:
        fn(flight)
    except Exception:  # noqa: BLE001 - a waiter's callback must not break the work
        _LOGGER.warning("A flight done-callback raised an exception.", exc_info=True)
