"""The ``auto`` sign-in: a chain in DefaultAzureCredential's spirit that says what it tried.

The steps, in order (DefaultAzureCredential's, then the notebook's own fallbacks):

1. ``environment``: a service principal in ``AZURE_TENANT_ID`` / ``AZURE_CLIENT_ID`` /
   ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH``;
2. ``workload_identity``: ``AZURE_FEDERATED_TOKEN_FILE``;
3. ``managed_identity``: a declared endpoint, else IMDS probed for at most 0.5 s;
4. ``azure_cli``, ``powershell``, ``azd``: the developer tools' own sign-ins, each looked up on
   PATH before anything is started;
5. ``cached``: the account this kernel is already signed in with, if it still gets a token
   without a person;
6. ``device_code``: the device code card (a person signs in).

A step that is not set up here is *skipped* and the next one tried. A production step
(1-3) that is set up but fails (a wrong secret, a refused federated token) *stops* the chain,
as DefaultAzureCredential does: going on would sign in as somebody else, silently. A developer
tool that fails is recorded and passed over.

``AZURE_TOKEN_CREDENTIALS`` narrows the chain as azure-identity defines it: ``dev`` (the tools,
the kernel's account, device code), ``prod`` (steps 1-3, never a prompt), or one credential's
name (``environmentcredential``, ``workloadidentitycredential``, ``managedidentitycredential``,
``azureclicredential``, ``azurepowershellcredential``, ``azuredeveloperclicredential``,
``visualstudiocodecredential``, ``interactivebrowsercredential``).

Every run leaves an `AutoReport`: for each step what happened, why, and how long it took. It is
``sign_in.report`` on the returned `SignIn`, the session's ``last_auto_report`` afterwards
(`nbauth.last_auto_report()`), and part of the message of `AutoSignInFailed`.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import _signin
from .._errors import (
    AuthenticationError,
    AuthenticationRequired,
    ConfigurationError,
    SignInError,
    redact,
)
from .._scopes import DEFAULT_CLIENT_ID
from .._signin import SignIn
from . import available, declaration, resolve
from ._method import Method
from ._paste_back import prefers_browser
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import Account
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["AutoReport", "AutoSignInFailed", "STEPS", "Step", "StepResult", "start"]

_LOGGER = logging.getLogger("nbauth")

METHOD = "auto"
ENV = "AZURE_TOKEN_CREDENTIALS"

SUCCEEDED = _signin.SUCCEEDED
WAITING = "waiting"
"""The step started an interactive sign-in (device code) that is still pending."""
SKIPPED = "skipped"
FAILED = "failed"
EXCLUDED = "excluded"
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Step:
    """A step of the chain: a method's `AutoPlace` (``cached``: the kernel's own account)."""

    name: str
    label: str
    env_name: str | None
    group: str
    stop_on_failure: bool


# Not a method: the account this kernel already signed in with, asked again without a person.
_CACHED = Step("cached", "this kernel's account", None, "dev", False)
_CACHED_ORDER = 70


def _chain() -> tuple[tuple[Step, ...], tuple[Step, ...], frozenset[str]]:
    """(the default chain in order, the steps run only when named, the azure-identity methods),
    from the methods' declarations (`nbauth._methods._method`)."""
    placed: list[tuple[int, Step]] = [(_CACHED_ORDER, _CACHED)]
    named_only: list[Step] = []
    others = [declaration(name) for name in available() if name != METHOD]  # not itself
    for method in others:
        place = method.auto
        if place is None:
            continue
        step = Step(method.name, place.label, place.env_name, place.group, place.stop_on_failure)
        if place.order is None:
            named_only.append(step)
        else:
            placed.append((place.order, step))
    service = frozenset(m.name for m in others if m.azure_identity)
    return tuple(step for _, step in sorted(placed, key=lambda p: p[0])), tuple(named_only), service


STEPS, _NAMED_ONLY, _SERVICE_METHODS = _chain()
"""The default chain; credentials azure-identity's variable may name outside it (run alone);
methods whose account is reused by asking its azure-identity credential for a token."""


@dataclass(frozen=True)
class StepResult:
    """What one step of the chain did."""

    name: str
    label: str
    status: str
    """``succeeded``, ``waiting`` (device code shown), ``skipped``, ``failed``, ``excluded``
    (by AZURE_TOKEN_CREDENTIALS) or ``not reached``."""
    reason: str = ""
    duration_ms: float | None = None


@dataclass
class AutoReport:
    """What the ``auto`` chain tried, why each step was skipped or failed, and how long it took.

    ``steps`` in chain order (a device code step still waiting settles when its sign-in ends);
    ``chosen``: the step that signed in (None if none); ``selection``: ``AZURE_TOKEN_CREDENTIALS``
    as set (None if unset). Text only: no token or secret ever goes into a reason.
    """

    selection: str | None = None
    chosen: str | None = None
    _results: list[StepResult] = field(default_factory=list, repr=False)
    _waiting: SignIn | None = field(default=None, repr=False, compare=False)

    @property
    def steps(self) -> list[StepResult]:
        results = list(self._results)
        waiting = self._waiting
        if waiting is None or not waiting.done():
            return results
        if waiting.status == _signin.SUCCEEDED and waiting.account is not None:
            status, why = SUCCEEDED, f"signed in as {waiting.account.username}"
        else:
            status = FAILED
            why = _first_line(waiting.error) if waiting.error is not None else waiting.status
        return [
            dataclasses.replace(r, status=status, reason=why) if r.status == WAITING else r
            for r in results
        ]

    def step(self, name: str) -> StepResult:
        """The result of the step named `name` (KeyError if the chain has no such step)."""
        for result in self.steps:
            if result.name == name:
                return result
        raise KeyError(name)

    def statuses(self) -> dict[str, str]:
        """``{step name: status}``, in chain order."""
        return {result.name: result.status for result in self.steps}

    def headline(self) -> str:
        """One line: who signed in, with which step (or that none did)."""
        chosen = next((r for r in self.steps if r.name == self.chosen), None)
        where = f" ({ENV}={self.selection})" if self.selection else ""
        if chosen is None:
            return f"auto sign-in{where}: no step signed in."
        if chosen.status == WAITING:
            return f"auto sign-in{where}: waiting for the {chosen.label}."
        if chosen.status == SUCCEEDED:
            return f"auto sign-in{where}: {chosen.reason} ({chosen.label})."
        return f"auto sign-in{where}: the {chosen.label} {chosen.status}."

    def __str__(self) -> str:
        width = max((len(r.name) for r in self.steps), default=0)
        lines = [self.headline()]
        for r in self.steps:
            took = f"{r.duration_ms:5.0f} ms" if r.duration_ms is not None else " " * 8
            reason = f"  {r.reason}" if r.reason else ""
            lines.append(f"  {r.name:<{width}}  {r.status:<11} {took}{reason}".rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            f"<td><code>{html.escape(r.name)}</code></td>"
            f"<td>{html.escape(r.status)}</td>"
            f"<td style='text-align:right'>"
            f"{'' if r.duration_ms is None else f'{r.duration_ms:.0f}&nbsp;ms'}</td>"
            f"<td>{html.escape(r.reason)}</td>"
            "</tr>"
            for r in self.steps
        )
        return (
            "<div class='nbauth-auto-report'>"
            f"<p>{html.escape(self.headline())}</p>"
            "<table><thead><tr><th>step</th><th>result</th><th>time</th><th>why</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></div>"
        )


class AutoSignInFailed(SignInError):
    """The ``auto`` chain did not sign in: every step was skipped, or a configured production
    step failed. ``report`` is the `AutoReport`; its text is part of the message."""

    def __init__(
        self, report: AutoReport, stopped_at: StepResult | None = None, step: Step | None = None
    ) -> None:
        self.report = report
        if stopped_at is not None:
            first = f"The auto sign-in stopped at the {stopped_at.label}, which failed: "
            first += stopped_at.reason
            if step is not None and step.group == "prod":
                first += (
                    " It is set up here, so the chain does not go on (it would sign in as "
                    "somebody else): fix it, or unset its variables."
                )
        elif report.selection == "prod":
            first = (
                f"No production sign-in method is set up here, and {ENV}=prod allows no "
                f"interactive sign-in. Unset {ENV} (or set it to 'dev') to sign in with a "
                f"device code."
            )
        else:
            first = (
                "No sign-in method of the auto chain worked here. Set up one of them (the "
                "reasons are below), or run `%azlogin --method device_code`."
            )
        super().__init__(f"{first}\n{report}")


def _selection() -> tuple[str | None, tuple[Step, ...], set[str]]:
    """(the variable's value, the steps to list, the names of those to run)."""
    value = os.environ.get(ENV, "").strip().lower() or None
    if value is None:
        return None, STEPS, {s.name for s in STEPS}
    if value in ("dev", "prod"):
        return value, STEPS, {s.name for s in STEPS if s.group == value}
    for step in STEPS:
        if step.env_name == value:
            return value, STEPS, {step.name}
    for step in _NAMED_ONLY:
        if step.env_name == value:
            return value, (step,), {step.name}
    known = sorted(
        [s.env_name for s in STEPS if s.env_name]
        + [s.env_name for s in _NAMED_ONLY if s.env_name]
    )
    raise ConfigurationError(
        f"{ENV}={value!r} is not a value nbauth knows. Use 'dev', 'prod', or one of: "
        f"{', '.join(known)} (or unset it)."
    )


def _first_line(exc: BaseException) -> str:
    text = redact(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _cached(session: Session, request: SignInRequest) -> SignIn:
    """The kernel's current account, if it still gets a token without a person."""
    account = session.account
    if account is None:
        raise MethodUnavailable("cached", "no account is signed in in this kernel yet")
    succeeded = SignIn(method=account.method)
    host, tenant = account.authority_pair
    if _same_sign_in(account, host, tenant, request) and session.peek_token(request.scopes):
        succeeded.succeed(account)
        return succeeded
    if account.method in _SERVICE_METHODS:
        try:
            session.token(request.scopes)
        except AuthenticationError as exc:
            raise MethodUnavailable(
                "cached", f"{account.username} gets no token any more: {_first_line(exc)}"
            ) from None
        succeeded.succeed(account)
        return succeeded
    if host != request.authority_host:
        raise MethodUnavailable(
            "cached", f"{account.username} signed in at {host}, not {request.authority_host}"
        )
    default_tenant = request.tenant.lower() in ("organizations", "common")
    try:
        found = session.sign_in_silently(
            username=account.username,
            tenant=tenant if default_tenant else request.tenant,
            client_id=account.client_id or request.client_id,
            authority_host=host,
            scopes=request.scopes,
        )
    except AuthenticationRequired:
        found = None
    if found is None:
        raise MethodUnavailable(
            "cached", f"{account.username} has to sign in again (expired, revoked or MFA)"
        )
    succeeded = SignIn(method=found.method)
    succeeded.succeed(found)
    return succeeded


def _same_sign_in(account: Account, host: str, tenant: str, request: SignInRequest) -> bool:
    """Whether the request asks for what the current account already is: same cloud, and a
    tenant and client ID that are either the defaults or the account's own. Otherwise a
    stored token would answer a different question (e.g. ``%azlogin --tenant other``)."""
    wanted_tenant = request.tenant.lower()
    return (
        host == request.authority_host
        and wanted_tenant in ("organizations", "common", tenant.lower(), (account.tenant_id or "").lower())
        and request.client_id in (DEFAULT_CLIENT_ID, account.client_id)
    )


def _run(step: Step, session: Session, request: SignInRequest) -> SignIn:
    if step.name == "cached":
        return _cached(session, request)
    step_request = dataclasses.replace(request, method=step.name, options=MappingProxyType({}))
    if step.name == "managed_identity" and os.environ.get("AZURE_CLIENT_ID", "").strip():
        if request.client_id.lower() == DEFAULT_CLIENT_ID:
            # DefaultAzureCredential's rule: AZURE_CLIENT_ID names a user-assigned identity.
            step_request = dataclasses.replace(
                step_request, client_id=os.environ["AZURE_CLIENT_ID"].strip()
            )
    if step.name == "device_code" and prefers_browser(session):
        # The admin's setting: a person on this (remote) kernel signs in in the browser.
        step_request = dataclasses.replace(step_request, method="browser")
    return resolve(step_request.method)(session, step_request)


def start(session: Session, request: SignInRequest) -> SignIn:
    """Run the chain; return the first sign-in that worked (finished, or a pending device
    code sign-in) with ``.report`` set, or raise `AutoSignInFailed`."""
    selection, steps, selected = _selection()
    prefers_browser(session)  # a bad person-method setting is one line, not a failed step
    report = AutoReport(selection=selection)

    def settle_rest(index: int) -> None:
        for later in steps[index + 1 :]:
            status = NOT_REACHED if later.name in selected else EXCLUDED
            why = f"{ENV}={selection}" if status == EXCLUDED else ""
            report._results.append(StepResult(later.name, later.label, status, why))

    for index, step in enumerate(steps):
        if step.name not in selected:
            report._results.append(
                StepResult(step.name, step.label, EXCLUDED, f"{ENV}={selection}")
            )
            continue
        started = time.perf_counter()
        try:
            signin = _run(step, session, request)
        except MethodUnavailable as exc:
            took = (time.perf_counter() - started) * 1000
            reason = exc.reason or ""
            report._results.append(StepResult(step.name, step.label, SKIPPED, reason, took))
            continue
        except (AuthenticationError, ConfigurationError) as exc:
            took = (time.perf_counter() - started) * 1000
            result = StepResult(step.name, step.label, FAILED, _first_line(exc), took)
            report._results.append(result)
            _LOGGER.debug("auto: %s failed: %s", step.name, result.reason)
            if step.stop_on_failure:
                settle_rest(index)
                session.last_auto_report = report
                raise AutoSignInFailed(report, stopped_at=result, step=step) from exc
            continue
        took = (time.perf_counter() - started) * 1000
        report.chosen = step.name
        if signin.done():
            who = signin.account.username if signin.account is not None else "?"
            report._results.append(
                StepResult(step.name, step.label, SUCCEEDED, f"signed in as {who}", took)
            )
        else:
            report._results.append(
                StepResult(step.name, step.label, WAITING, "shown; waiting for the sign-in", took)
            )
            report._waiting = signin
        settle_rest(index)
        signin.set_report(report)
        session.last_auto_report = report
        _LOGGER.info("%s", report)
        return signin
    session.last_auto_report = report
    raise AutoSignInFailed(report)


DECLARATION = Method(METHOD, start, aliases=("default",), person=True, account="silent")
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
