"""``%azlogin``, ``%azlogout`` and ``%azwhoami``.

``%azlogin`` first tries to go on without asking anything (an account this kernel already holds
that can still get a token), and otherwise starts a sign-in and shows it: the device-code card
in a notebook, text in a terminal. Sign-in methods are looked up in `LOGIN_METHODS`, a table
another method is added to with one entry.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, CaselessStrEnum, Instance, observe

from .. import _clouds
from .._errors import AuthenticationError, ConfigurationError
from .._ui import display as ui_display

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["CLOUDS", "LOGIN_METHODS", "LoginMagics", "LoginRequest"]


@dataclass(frozen=True)
class LoginRequest:
    """A parsed ``%azlogin``, defaults applied."""

    session: Session
    authority_host: str | None
    """None: the session's default."""
    tenant: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    account: str | None
    wait: bool
    ui: str


# Cloud names as ``az cloud list`` spells them (matched case-insensitively).
CLOUDS: dict[str, _clouds.Cloud] = {
    cloud.name.lower(): cloud
    for cloud in (_clouds.AZURE_PUBLIC, _clouds.AZURE_CHINA, _clouds.AZURE_US_GOVERNMENT)
}


def _cloud_names() -> str:
    return ", ".join(cloud.name for cloud in CLOUDS.values())


def _login_auto(magics: LoginMagics, request: LoginRequest) -> None:
    """Silent when the kernel already holds a usable sign-in for the account, else device code."""
    try:
        account = request.session.sign_in_silently(
            username=request.account,
            authority_host=request.authority_host,
            tenant=request.tenant,
            client_id=request.client_id,
            scopes=request.scopes,
        )
    except AuthenticationError:
        # e.g. the account is not a member of this tenant: a new sign-in may pick another one.
        account = None
    if account is not None:
        ui_display.show_badge(request.session, account, scopes=request.scopes, ui=request.ui)
        return
    _login_device_code(magics, _with_remembered_account(request))


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


def _login_device_code(magics: LoginMagics, request: LoginRequest) -> None:
    """A new device-code sign-in, shown as the card (or text)."""
    signin = ui_display.sign_in(
        request.session,
        wait=request.wait,
        ui=request.ui,
        account_hint=request.account,
        method="device_code",
        tenant=request.tenant,
        client_id=request.client_id,
        scopes=request.scopes,
        authority_host=request.authority_host,
    )
    account = signin.account
    if (
        request.account
        and account is not None
        and account.username.lower() != request.account.lower()
    ):
        print(f"Note: you signed in as {account.username}, not {request.account}.")


LOGIN_METHODS: dict[str, Callable[[LoginMagics, LoginRequest], None]] = {
    "auto": _login_auto,
    "device_code": _login_device_code,
}
"""``--method`` name -> how ``%azlogin`` signs in with it."""


def _method_name(value: str) -> str:
    name = value.strip().lower().replace("-", "_")
    if name not in LOGIN_METHODS:
        raise UsageError(
            f"Unknown sign-in method {value!r}. %azlogin accepts --method "
            f"{' or '.join(LOGIN_METHODS)}."
        )
    return name


def _variable_name(value: str) -> str:
    if not value.isidentifier() or keyword.iskeyword(value):
        raise UsageError(
            f"--var needs a Python variable name (letters, digits, underscores, not starting "
            f"with a digit), such as 'credential' or 'cred'; got {value!r}."
        )
    return value


@magics_class
class LoginMagics(Magics):
    """``%azlogin``, ``%azlogout``, ``%azwhoami``.

    Configurable like any IPython magics, e.g. ``c.LoginMagics.ui = "text"`` (never widgets) or
    ``c.LoginMagics.method = "device_code"`` (always a new sign-in) in ipython_config.py.
    """

    ui = CaselessStrEnum(
        list(ui_display.UI_CHOICES),
        default_value="auto",
        help="How sign-ins are shown: 'auto' (widgets in a Jupyter kernel, text elsewhere), "
        "'widgets' or 'text'.",
    ).tag(config=True)
    method = CaselessStrEnum(
        list(LOGIN_METHODS),
        default_value="auto",
        help="The sign-in method when %azlogin is given no --method.",
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
    session = Instance(
        "nbauth._session.Session",
        allow_none=True,
        help="The Session to sign in (default: the kernel's, nbauth.session()).",
    )

    _reprompt: Any = None  # the session's InlineReprompt, when this instance installed it

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        if session is None:
            from .._session import session as kernel_session

            session = kernel_session()
        self.session = session
        from .._reprompt import install

        self._reprompt = install(session, ui=self.ui)

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
        help=f"How to sign in: {', '.join(LOGIN_METHODS)}. 'auto' (the default) goes on "
        "silently when this kernel already holds a sign-in for the account, else device code.",
    )
    @argument("--tenant", "-t", default=None, help="Tenant ID or domain (default: organizations).")
    @argument("--client-id", default=None, help="Public client (application) ID to sign in with.")
    @argument("--cloud", default=None, help=f"Azure cloud: {_cloud_names()}.")
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
        "sign-in asks for it.",
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

        Shows a sign-in card (code, a button that copies it and opens the sign-in page, a
        countdown), waits until you have signed in, and puts the kernel's credential in the
        variable ``credential``. If this kernel already holds a sign-in that still works, it
        just shows who is signed in. The stop button cancels a sign-in that is waiting.

        Examples::

            In [1]: %load_ext nbauth
            In [2]: %azlogin
            In [3]: %azlogin --tenant contoso.onmicrosoft.com
            In [4]: %azlogin --no-wait          # returns at once; Cancel button works
            In [5]: %azlogin --account alice@contoso.com --var cred
            In [6]: %azlogin --method device_code --scope https://storage.azure.com/.default
            In [7]: %azlogin --cloud AzureUSGovernment
            In [8]: %azlogin --persist            # stay signed in across kernel restarts
            In [9]: from azure.storage.blob import BlobServiceClient
            In [10]: BlobServiceClient(url, credential=credential)
        """
        args = parse_argstring(self.azlogin, line)
        method = _method_name(args.method or self.method)
        var = _variable_name(args.var)
        request = self._request(args)
        pending = request.session.pending
        if pending is not None:
            # The newest %azlogin wins, silent or not: a forgotten --no-wait sign-in must not
            # keep every credential call waiting for it.
            pending.cancel()
        self.shell.user_ns[var] = request.session.credential()
        try:
            self._apply_persistence(request.session, args)
            LOGIN_METHODS[method](self, request)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except AuthenticationError as exc:
            raise ui_display.one_line(exc) from None

    def _apply_persistence(self, session: Session, args: Any) -> None:
        """--persist / --allow-unencrypted, else the config settings, else leave as is."""
        strategy = args.persist if args.persist is not None else self.persist
        allow = True if args.allow_unencrypted or self.allow_unencrypted else None
        if strategy is None and allow is None:
            return
        from .._persistence import Persistence

        session.set_persistence(
            Persistence.parse(strategy, "--persist") if strategy is not None else None,
            allow_unencrypted=allow,
        )

    def _request(self, args: Any) -> LoginRequest:
        session = self.session
        authority_host: str | None = None  # None: the session's (AZURE_AUTHORITY_HOST or public)
        if args.cloud is not None:
            cloud = CLOUDS.get(args.cloud.strip().lower())
            if cloud is None:
                raise UsageError(
                    f"Unknown cloud {args.cloud!r}. %azlogin accepts --cloud {_cloud_names()}."
                )
            authority_host = cloud.authority_host
        if args.account is not None and "@" not in args.account:
            raise UsageError(
                f"--account needs a username such as alice@contoso.com; got {args.account!r}."
            )
        try:
            from .._session import normalize_scopes

            tenant = _clouds.validate_tenant(args.tenant) if args.tenant else None
            host = authority_host or session.authority_host
            scopes = (
                normalize_scopes(args.scopes, "--scope")
                if args.scopes
                else (_clouds.cloud_for(host).arm_scope,)
            )
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        return LoginRequest(
            session=session,
            authority_host=authority_host,
            tenant=tenant,
            client_id=args.client_id,
            scopes=scopes,
            account=args.account,
            wait=not args.no_wait,
            ui=self.ui,
        )

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
        args = parse_argstring(self.azlogout, line)
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
            raise UsageError(f"%azwhoami takes no arguments; got {line.strip()!r}.")
        from IPython.display import display

        from .._whoami import whoami

        display(whoami(self.session))
