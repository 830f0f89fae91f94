"""``%azlogin``, ``%azlogout`` and ``%azwhoami``.

``%azlogin`` signs in with any method of `nbauth._methods` (``--method``; aliases accepted) and
shows it: the device-code card (or text) for a method that needs a person, the signed-in badge
for one that finishes at once. The default, ``auto``, is the chain of `nbauth._methods.auto`
(environment, workload identity, managed identity, developer tools, this kernel's account,
device code); its report is shown under the badge.

Secrets never come from the magic's line (it is saved with the notebook): a client secret comes
from ``$AZURE_CLIENT_SECRET``, a password from a ``getpass`` prompt, and ``--option`` refuses
names that look like secrets.
"""

from __future__ import annotations

import builtins
import dataclasses
import keyword
import os
import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import (
    Bool,
    CaselessStrEnum,
    TraitError,
    Unicode,
    observe,
    validate,
)

from .. import _clouds
from .._arguments import shown
from .._base_errors import ConfigurationError
from .._hidden import HiddenValues
from .._methods import available, canonical_name
from .._ui import display as ui_display
from ._base import SessionMagics
from ._parsing import parse

if TYPE_CHECKING:
    from .._session import Session
    from .._signin import SignIn

__all__ = ["LoginMagics", "LoginRequest", "parse_option"]

# Methods a person signs in with: ``--account`` names who (a hint, or a silent switch).
_PERSON_METHODS = ("auto", "device_code", "browser", "broker")
# ... of which these take it as msal's login_hint (the page preselects the account).
_LOGIN_HINT_METHODS = ("browser", "broker")
# Methods that take no method options at all (`auto` rejects them itself, device code ignores).
_NO_OPTIONS = ("auto", "device_code")
# Flags that are method options: (argument name, flag, option name, the method it goes with).
_FLAG_OPTIONS = (
    ("auth_file", "--auth-file", "auth_file", "auth_file"),
    ("certificate", "--certificate", "certificate_path", "client_certificate"),
    ("username", "--username", "username", "username_password"),
)
# Session.login's own parameters: given by their flags, never through --option.
_LOGIN_PARAMETERS = {
    "tenant": "--tenant",
    "client_id": "--client-id",
    "scopes": "--scope",
    "authority_host": "--cloud",
    "cloud": "--cloud",
    "wait": "--no-wait",
    "persistence": "--persist",
    "allow_unencrypted": "--allow-unencrypted",
    "method": "--method",
}
_SECRET_WORDS = ("secret", "password", "token")
# Option names with a secret-sounding word that hold no secret (a path to a token file).
_NOT_SECRETS = frozenset({"token_file"})
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


@dataclass(frozen=True)
class LoginRequest:
    """A parsed ``%azlogin``, defaults applied. Holds no secret (a password is asked for only
    when the sign-in starts and goes straight to it)."""

    session: Session
    method: str
    """Canonical method name (`nbauth._methods.canonical_name`)."""
    authority_host: str | None
    """None: the session's default."""
    cloud: _clouds.Cloud | None
    """The ``--cloud`` given, resolved (None: the session's default)."""
    tenant: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    account: str | None
    wait: bool
    ui: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    """Method options from the line (``--auth-file``, ``--option``...); never secrets."""

    def login_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Session.login` / `ui_display.sign_in`."""
        kwargs: dict[str, Any] = {
            "method": self.method,
            "tenant": self.tenant,
            "client_id": self.client_id,
            "scopes": self.scopes,
            "authority_host": self.authority_host,
        }
        if self.cloud is not None:
            kwargs["cloud"] = self.cloud  # the session then follows this cloud (ARM, scopes)
        return kwargs


def _method_names() -> str:
    return ", ".join(available())


def _cloud_names() -> str:
    short = [name for name, cloud in _clouds.CLOUD_NAMES.items() if name != cloud.name.lower()]
    az_names = dict.fromkeys(cloud.name for cloud in _clouds.CLOUD_NAMES.values())
    return f"{', '.join(short)} (or az's {', '.join(az_names)})"


def _method_name(value: str) -> str:
    try:
        return canonical_name(value)
    except ConfigurationError:
        raise UsageError(
            f"Unknown sign-in method {value!r}. %azlogin accepts --method {_method_names()} "
            f"(and aliases such as az, cli, msi, env, cert, interactive_browser)."
        ) from None


# IPython's history names that the display hook creates as it goes (_, __, _i, _ii, _i3, _3).
_HISTORY_NAME = re.compile(r"_+|_i+|_i?\d+")


def _variable_name(value: str, shell: Any) -> str:
    """``--var``: a Python name that is not IPython's or Python's own.

    Returned NFKC-normalized, as Python reads names in a cell: ``ｃred`` is ``cred`` there.
    """
    name = unicodedata.normalize("NFKC", value)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(
            f"--var needs a Python variable name (letters, digits, underscores, not starting "
            f"with a digit), such as 'credential' or 'cred'; got {shown(value)}."
        )
    hidden = getattr(shell, "user_ns_hidden", None) or {}
    if name in hidden or _HISTORY_NAME.fullmatch(name) or name.startswith("__"):
        owner = "IPython's own"
    elif name in vars(builtins):
        owner = "Python's built-in"
    else:
        return name
    raise UsageError(
        f"--var {name} would replace {owner} {name}; choose another name, such as 'credential' "
        f"or 'cred'."
    )


def _cloud(value: str) -> _clouds.Cloud:
    """``--cloud``: a cloud name or the path of a JSON file describing one."""
    text = os.path.expanduser(value.strip())
    key = text.lower().replace("-", "").replace("_", "")
    if key not in _clouds.CLOUD_NAMES and not (text.endswith(".json") or os.path.isfile(text)):
        raise UsageError(
            f"Unknown cloud {shown(value)}. %azlogin accepts --cloud {_cloud_names()}, or the "
            f"path of a JSON file describing a cloud (authority_host, arm_endpoint; an nbauth "
            f"emulator's ready file works too)."
        )
    try:
        # Registered only once the whole line is accepted (see LoginMagics.azlogin).
        return _clouds.parse_cloud(text)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None


def parse_option(text: str) -> tuple[str, Any]:
    """``--option NAME=VALUE`` -> (name, value); ``true``/``false`` and numbers are converted.

    Names that sound like secrets are refused: the magic's line is saved with the notebook.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        # Not repeated: without a NAME= the text may be the value itself, a secret.
        raise UsageError(
            "--option needs NAME=VALUE, with NAME a Python name, such as --option "
            "subscription=<id>."
        )
    lowered = name.lower()
    if lowered not in _NOT_SECRETS and any(word in lowered for word in _SECRET_WORDS):
        # The value is not repeated: it may be the secret itself.
        raise UsageError(
            f"--option {name}=... would save a secret in the notebook. Put it in an environment "
            f"variable (e.g. AZURE_CLIENT_SECRET) before starting Jupyter, or call "
            f"nbauth.login(method, {name}=...) with a value read from a key vault or "
            f"getpass.getpass()."
        )
    if name in _LOGIN_PARAMETERS:
        raise UsageError(f"Give {name} with {_LOGIN_PARAMETERS[name]}, not --option.")
    value = raw.strip()
    if value.lower() in ("true", "false"):
        return name, value.lower() == "true"
    if _NUMBER.fullmatch(value):
        return name, float(value) if "." in value else int(value)
    return name, value


def _stdin_is_a_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or replaced stdin
        return False


def _ask_password(username: str) -> str:
    """The password for `username`, from a prompt that does not echo it.

    In a kernel, ipykernel forwards ``getpass`` to the front-end; one that cannot ask (nbclient,
    papermill) raises StdinNotImplementedError. Elsewhere only a terminal can be asked.
    """
    import getpass  # Lazy load; looked up at call time: ipykernel swaps getpass.getpass per cell

    refusal = (
        f"%azlogin --method username_password asks for the password, but nothing here can "
        f"prompt for it (e.g. a notebook run by nbclient or papermill). Call "
        f"nbauth.login('username_password', username={username!r}, password=...) with the "
        f"password read from a key vault or an environment variable instead; never type it "
        f"into a cell."
    )
    if ui_display.frontend() != "kernel" and not _stdin_is_a_terminal():
        raise UsageError(refusal)
    try:
        password = getpass.getpass(f"Password for {username}: ")
    except (StdinNotImplementedError, EOFError):
        raise UsageError(refusal) from None
    except KeyboardInterrupt:
        from .._errors import SignInCancelled

        raise ui_display.one_line(SignInCancelled("Sign-in cancelled.")) from None
    if not password:
        raise UsageError("No password was entered, so the sign-in was not started.")
    return password


# -- how %azlogin signs in -------------------------------------------------------------------


def _sign_in(request: LoginRequest, **options: Any) -> SignIn:
    """Any method, through the display: the card for a code, the badge when it is done."""
    options = HiddenValues(options)  # may hold the password: see nbauth._hidden
    hint = request.account if request.method == "device_code" else None
    signin = ui_display.sign_in(
        request.session,
        wait=request.wait,
        ui=request.ui,
        account_hint=hint,
        **request.login_kwargs(),
        **request.options,
        **options,
    )
    account = signin.account
    if (
        request.account
        and account is not None
        and account.username.lower() != request.account.lower()
    ):
        print(f"Note: you signed in as {account.username}, not {request.account}.")
    return signin


def _resume(request: LoginRequest) -> bool:
    """Make ``request.account`` current again without asking anything, if this kernel (or a
    saved cache) holds a sign-in for it that still gets a token; show the badge."""
    from .._errors import AuthenticationError

    session = request.session
    pending = session.pending
    if pending is not None:
        # The newest %azlogin wins, silent or not: a forgotten --no-wait sign-in must not
        # keep every credential call waiting for it. (A sign-in cancels it itself.)
        pending.cancel()
    try:
        account = session.sign_in_silently(
            username=request.account,
            authority_host=request.authority_host,
            tenant=request.tenant,
            client_id=request.client_id,
            scopes=request.scopes,
        )
    except AuthenticationError:
        # e.g. the account is not a member of this tenant: a new sign-in may pick another one.
        account = None
    if account is None:
        return False
    ui_display.show_badge(session, account, scopes=request.scopes, ui=request.ui)
    return True


def _with_remembered_account(request: LoginRequest) -> LoginRequest:
    """After a kernel restart with persistence on (``reauth``, or ``read_write`` whose saved
    sign-in no longer works), ask for the account signed in last, in its tenant and client."""
    if request.account is not None or request.session.account is not None:
        return request
    record = request.session.remembered_account(
        authority_host=request.authority_host, client_id=request.client_id
    )
    if record is None:
        return request
    return dataclasses.replace(
        request,
        account=record.username,
        tenant=request.tenant or record.tenant,
        client_id=request.client_id or record.client_id,
    )


def _login_auto(request: LoginRequest) -> None:
    """``auto``: the chain, with the card as its last step's prompt.

    A named person (``--account``, or the sign-in a saved cache remembers after a restart) is
    not something the chain can look for: that account silently if it still works, else a
    device code for it.
    """
    person = _with_remembered_account(request)
    if person.account is not None:
        if _resume(person):
            return
        _sign_in(dataclasses.replace(person, method="device_code"))
        return
    _sign_in(request)


def _login(request: LoginRequest, **secrets: Any) -> None:
    """Sign in as `request` says; `secrets` (a password just asked for) go to the method only."""
    secrets = HiddenValues(secrets)  # Verbose tracebacks print arguments: nbauth._hidden
    if request.method == "auto":
        _login_auto(request)
    else:
        _sign_in(request, **secrets)


@magics_class
class LoginMagics(SessionMagics):
    """``%azlogin``, ``%azlogout``, ``%azwhoami``.

    Configurable like any IPython magics, e.g. ``c.LoginMagics.ui = "text"`` (never widgets) or
    ``c.LoginMagics.method = "device_code"`` (always a new sign-in) in ipython_config.py.
    """

    method = Unicode(
        "auto",
        help="The sign-in method when %azlogin is given no --method: any name of "
        "nbauth._methods.available() or an alias ('auto': the chain that explains itself).",
    ).tag(config=True)
    persist = CaselessStrEnum(
        ["none", "read_write", "reauth"],
        default_value=None,
        allow_none=True,
        help="Stay signed in across kernel restarts: 'none' (nothing saved; for shared "
        "machines), 'read_write' (save the token cache, encrypted; then %azlogin after a "
        "restart is silent) or 'reauth' (remember only who signed in). Default: "
        "$NBAUTH_PERSIST, else none. %azlogin --persist overrides it.",
    ).tag(config=True)
    allow_unencrypted = Bool(
        False,
        help="With persist='read_write': if no encrypted store (libsecret, Keychain, DPAPI) is "
        "available, save tokens in a plaintext file readable only by you instead of refusing.",
    ).tag(config=True)
    @observe("session")
    def _session_set(self, change: Any) -> None:
        from .._ui.reprompt import install

        handler = install(change["new"], ui=self.ui)
        if handler is not None:
            handler.ui = self.ui

    @property
    def _reprompt(self) -> Any:
        """The session's inline re-prompt, once a session is in use."""
        from .._ui.reprompt import InlineReprompt

        handler = getattr(self.session, "interaction_handler", None)
        return handler if isinstance(handler, InlineReprompt) else None

    @validate("method")
    def _valid_method(self, proposal: Any) -> str:
        try:
            return canonical_name(proposal["value"])
        except ConfigurationError as exc:
            raise TraitError(f"LoginMagics.method: {exc}") from None

    @observe("ui")
    def _ui_changed(self, change: Any) -> None:
        # The inline re-prompt shows sign-ins the way %azlogin does.
        if self._reprompt is not None:
            self._reprompt.ui = change["new"]

    # -- %azlogin ----------------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "--method",
        "-m",
        default=None,
        help=f"How to sign in: {_method_names()}. 'auto' (the default) tries environment, "
        "workload identity, managed identity, az, pwsh, azd, this kernel's account, then "
        "device code, and shows what it tried.",
    )
    @argument("--tenant", "-t", default=None, help="Tenant ID or domain (default: organizations).")
    @argument(
        "--client-id",
        default=None,
        help="Application (client) ID to sign in with; for managed_identity, the user-assigned "
        "identity's client ID.",
    )
    @argument(
        "--cloud",
        default=None,
        help=f"Azure cloud: {_cloud_names()}, or the path of a JSON file describing one.",
    )
    @argument(
        "--scope",
        dest="scopes",
        nargs="+",
        action="extend",
        default=None,
        metavar="S",
        help="Scope(s) to sign in for (default: Azure Resource Manager).",
    )
    @argument(
        "--account",
        "-a",
        default=None,
        metavar="USERNAME",
        help="The account to use: silently if this kernel signed it in before, else the "
        "sign-in asks for it (auto, device_code; browser/broker preselect it).",
    )
    @argument(
        "--auth-file",
        default=None,
        metavar="PATH",
        help="With --method auth_file: the JSON of `az ad sp create-for-rbac --sdk-auth` "
        "(default: $AZURE_AUTH_LOCATION).",
    )
    @argument(
        "--certificate",
        default=None,
        metavar="PATH",
        help="With --method client_certificate: PEM or PKCS12 file with the private key "
        "(default: $AZURE_CLIENT_CERTIFICATE_PATH).",
    )
    @argument(
        "--username",
        default=None,
        metavar="USER",
        help="With --method username_password: the user; the password is asked for "
        "(never on this line).",
    )
    @argument(
        "--option",
        dest="options",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="A method option, e.g. subscription=<id> (azure_cli), object_id=<id> "
        "(managed_identity), fallback=false (browser). Repeatable. No secrets: names with "
        "secret, password or token are refused.",
    )
    @argument(
        "--no-wait",
        action="store_true",
        help="Return at once; the card's Cancel button works, and cells that use the "
        "credential wait for the sign-in.",
    )
    @argument(
        "--var",
        default="credential",
        metavar="NAME",
        help="Variable that receives the credential (default: credential).",
    )
    @argument(
        "--persist",
        nargs="?",
        const="read_write",
        default=None,
        metavar="STRATEGY",
        help="Stay signed in across kernel restarts: read_write (the default for a bare "
        "--persist: save tokens, encrypted), reauth (remember only who signed in) or none.",
    )
    @argument(
        "--allow-unencrypted",
        action="store_true",
        help="With --persist read_write: if this machine has no encrypted store, save tokens "
        "in a file readable only by you (a warning says so) instead of refusing.",
    )
    @line_magic
    def azlogin(self, line: str = "") -> None:
        """Sign in to Azure / Microsoft Entra ID for this kernel.

        Without --method, 'auto' tries what needs nobody first (a service principal or managed
        identity set up here, the Azure CLI's sign-in, this kernel's account) and otherwise
        shows a sign-in card (code, a button that copies it and opens the sign-in page, a
        countdown) and waits; "What auto tried" under the badge says why. The kernel's
        credential goes into the variable ``credential``. The stop button cancels a sign-in
        that is waiting.

        Examples::

            In [1]: %load_ext nbauth
            In [2]: %azlogin
            In [3]: %azlogin --tenant contoso.onmicrosoft.com
            In [4]: %azlogin --no-wait          # returns at once; Cancel button works
            In [5]: %azlogin --account alice@contoso.com --var cred
            In [6]: %azlogin --method device_code --scope https://storage.azure.com/.default
            In [7]: %azlogin --cloud usgov
            In [8]: %azlogin --persist            # stay signed in across kernel restarts
            In [9]: %azlogin --method azure_cli   # whoever `az login` signed in
            In [10]: %azlogin --method browser --account alice@contoso.com
            In [11]: %azlogin --method managed_identity --client-id <identity client id>
            In [12]: %azlogin --method auth_file --auth-file ~/sp.json
            In [13]: %azlogin --method client_secret --tenant T --client-id C   # $AZURE_CLIENT_SECRET
            In [14]: %azlogin --method client_certificate --tenant T --client-id C --certificate sp.pem
            In [15]: %azlogin --method username_password --username bot@contoso.com  # asks
            In [16]: %azlogin --method azure_cli --option subscription=<id>
            In [17]: from azure.storage.blob import BlobServiceClient
            In [18]: BlobServiceClient(url, credential=credential)
        """
        args = parse(self.azlogin, line)
        # Everything is checked, and the password asked for, before anything changes: a
        # refusal leaves the kernel as it was (the pending sign-in, the variable, persistence).
        method = _method_name(args.method) if args.method else self.method
        var = _variable_name(args.var, self.shell)
        request = self._request(args, method)
        persistence = self._persistence(args)
        secrets = HiddenValues(  # a traceback may print this frame's variables: nbauth._hidden
            {"password": _ask_password(request.options["username"])}
            if method == "username_password"
            else {}
        )
        from .._errors import AuthenticationError  # here, not at %load_ext: it loads azure-core

        try:
            if persistence is not None:
                strategy, allow = persistence
                # A refusal (no encrypted store, an unsafe directory) changes nothing.
                request.session.set_persistence(strategy, allow_unencrypted=allow)
            with _clouds.registered(request.cloud):  # kept only if the sign-in starts
                _login(request, **secrets)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except AuthenticationError as exc:
            raise ui_display.one_line(exc) from None
        self.shell.user_ns[var] = request.session.credential()

    def _persistence(self, args: Any) -> tuple[Any, bool | None] | None:
        """--persist / --allow-unencrypted, else the config settings, checked: the arguments
        for `Session.set_persistence`, or None to leave it as is."""
        strategy = args.persist if args.persist is not None else self.persist
        allow = True if args.allow_unencrypted or self.allow_unencrypted else None
        if strategy is None and allow is None:
            return None
        from .._persistence import Persistence

        try:
            parsed = Persistence.parse(strategy, "--persist") if strategy is not None else None
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        return parsed, allow

    def _request(self, args: Any, method: str) -> LoginRequest:
        session = self.session
        cloud = _cloud(args.cloud) if args.cloud is not None else None
        if args.account is not None:
            if method not in _PERSON_METHODS:
                raise UsageError(
                    f"--account names a person; it goes with --method "
                    f"{', '.join(_PERSON_METHODS)}, not {method}."
                )
            if "@" not in args.account:
                raise UsageError(
                    f"--account needs a username such as alice@contoso.com; got "
                    f"{shown(args.account)}."
                )
        options = self._options(args, method)
        try:
            from .._scopes import normalize_scopes

            tenant = _clouds.validate_tenant(args.tenant) if args.tenant else None
            host = cloud.authority_host if cloud is not None else session.authority_host
            scopes = (
                normalize_scopes(args.scopes, "--scope")
                if args.scopes
                else ((cloud or _clouds.cloud_for(host)).arm_scope,)
            )
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        return LoginRequest(
            session=session,
            method=method,
            authority_host=cloud.authority_host if cloud is not None else None,
            cloud=cloud,
            tenant=tenant,
            client_id=args.client_id,
            scopes=scopes,
            account=args.account,
            wait=not args.no_wait,
            ui=self.ui,
            options=MappingProxyType(options),
        )

    @staticmethod
    def _options(args: Any, method: str) -> dict[str, Any]:
        """The method options of the line: its flags, then ``--option``s (each once)."""
        options: dict[str, Any] = {}
        for attribute, flag, name, owner in _FLAG_OPTIONS:
            value = getattr(args, attribute)
            if value is None:
                continue
            if method != owner:
                raise UsageError(f"{flag} goes with --method {owner}; add it, or drop {flag}.")
            options[name] = value if name == "username" else os.path.expanduser(value)
        if method == "username_password" and "username" not in options:
            raise UsageError(
                "--method username_password needs --username USER (the password is asked for, "
                "never put on this line)."
            )
        if args.account is not None and method in _LOGIN_HINT_METHODS:
            options["login_hint"] = args.account
        for text in args.options or ():
            name, value = parse_option(text)
            if method in _NO_OPTIONS:
                raise UsageError(
                    f"--method {method} takes no --option; other methods do (e.g. --method "
                    f"azure_cli --option subscription=<id>)."
                )
            if name in options:
                raise UsageError(f"The option {name} is given twice.")
            options[name] = value
        return options

    # -- %azlogout ---------------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "--all",
        action="store_true",
        help="Sign out every account this kernel signed in (and cancel a pending sign-in).",
    )
    @line_magic
    def azlogout(self, line: str = "") -> None:
        """Sign out of Azure in this kernel: forget the account and its tokens.

        Azure SDK clients built with ``credential`` stop getting tokens until you sign in
        again (``%azlogin``).

        Examples::

            In [1]: %azlogout
            In [2]: %azlogout --all
        """
        args = parse(self.azlogout, line)
        session = self.session
        before = session.account
        session.logout(all=args.all)
        if args.all:
            print("Signed out of every account in this kernel.")
        elif before is not None:
            print(f"Signed out {before.username}.")
        else:
            print("Nobody was signed in.")

    # -- %azwhoami ---------------------------------------------------------------------------

    @line_magic
    def azwhoami(self, line: str = "") -> None:
        """Who is signed in in this kernel: user, tenant, method, subscription, and until when
        the tokens used so far are valid (never a token).

        Examples::

            In [1]: %azwhoami
            In [2]: nbauth.whoami()            # the same, as a value
        """
        if line.strip():
            # What was typed is not repeated: it may be a secret (see ._parsing).
            raise UsageError(
                "%azwhoami takes no arguments; `nbauth.whoami()` is the same as a value."
            )
        from IPython.display import display

        from .._whoami import whoami

        display(whoami(self.session))
