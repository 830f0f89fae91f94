"""``%azlogin``: sign in to Azure / Microsoft Entra ID for this kernel.

``%azlogin`` signs in with any method of `nbauth._methods` (``--method``; aliases accepted) and
shows it: the device-code card (or text) for a method that needs a person, the signed-in badge
for one that finishes at once. The default, ``auto``, is the chain of `nbauth._methods.auto`
(environment, workload identity, managed identity, developer tools, this kernel's account,
device code); its report is shown under the badge.

Secrets never come from the magic's line (it is saved with the notebook): a client secret comes
from ``$AZURE_CLIENT_SECRET``, a password from a ``getpass`` prompt (`._password_prompt`), and
``--option`` refuses names that look like secrets (`._login_options`).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
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
from .._base_errors import ConfigurationError
from .._grant_engine import scope as checked_scope
from .._hidden import HiddenValues
from .._methods import canonical_name
from .._persistence import Persistence
from .._ui import display as ui_display
from .._ui.reprompt import InlineReprompt, install
from ._base import SessionMagics
from ._login_flow import login
from ._login_request import (
    LoginRequest,
    cloud_names,
    login_request,
    method_name,
    method_names,
)
from ._parsing import parse
from ._password_prompt import ask_password
from ._var_names import variable_name

__all__ = ["AzloginMagics"]


@magics_class
class AzloginMagics(SessionMagics):
    """``%azlogin``, and the inline re-prompt that shows sign-ins the same way.

    Configured through `nbauth._magics.LoginMagics`, e.g. ``c.LoginMagics.ui = "text"`` (never
    widgets) or ``c.LoginMagics.method = "device_code"`` (always a new sign-in).
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
    person_method = CaselessStrEnum(
        ["", "device_code", "browser"],
        default_value="",
        help="How a person signs in on a remote kernel (JupyterHub, Binder, Codespaces, SSH...) "
        "when auto gets to asking one: 'device_code' (a code to type on a page) or 'browser' "
        "(open the sign-in page in your own browser, then paste the address it ends on into "
        "the card): for tenants whose Conditional Access blocks device code. Default '': "
        "$NBAUTH_PERSON_METHOD, else device_code. Local kernels are not affected.",
    ).tag(config=True)

    @observe("session")
    def _session_set(self, change: Any) -> None:
        handler = install(change["new"], ui=self.ui)
        if handler is not None:
            handler.ui = self.ui

    @property
    def _reprompt(self) -> Any:
        """The session's inline re-prompt, once a session is in use."""
        handler = self.session.tokens.interaction_handler
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
        help=f"How to sign in: {method_names()}. 'auto' (the default) tries environment, "
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
        help=f"Azure cloud: {cloud_names()}, or the path of a JSON file describing one.",
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
    @argument(
        "--export",
        action="store_true",
        help="Also sign in processes started later from this kernel (!python, subprocess, a "
        "Dask LocalCluster): azure-identity's DefaultAzureCredential there gets your tokens "
        "(IDENTITY_ENDPOINT, as in Cloud Shell). %%azwhoami shows it; %%azlogout ends it.",
    )
    @argument(
        "--export-scope",
        dest="export_scopes",
        nargs="+",
        action="extend",
        default=None,
        type=checked_scope,
        metavar="S",
        help="With --export: the scopes they may get (default: Storage, Resource Manager, "
        "Key Vault).",
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

        Where the organization blocks device code (Conditional Access, AADSTS53003), the card
        switches to a browser sign-in: "Open sign-in page", then paste the address the browser
        ends on (``http://localhost:<port>/?code=...``) into the card's field; the cell
        finishes meanwhile so the card can take it. ``--method browser`` does the same on a
        remote kernel. An admin who knows the tenant blocks device code sets
        ``c.LoginMagics.person_method = "browser"`` (or ``$NBAUTH_PERSON_METHOD=browser``):
        auto then goes straight to the browser sign-in on remote kernels.

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
        method = method_name(args.method) if args.method else self.method
        var = variable_name(args.var, self.shell)
        request = self._request(args, method)
        persistence = self._persistence(args)
        secrets = HiddenValues(  # a traceback may print this frame's variables: nbauth._hidden
            {"password": ask_password(request.options["username"])}
            if method == "username_password"
            else {}
        )
        from .._errors import AuthenticationError  # here, not at %load_ext: it loads azure-core

        # The setting in force now ('' leaves it to $NBAUTH_PERSON_METHOD): see _paste_back.
        request.session.person_method = self.person_method or None
        try:
            # A refusal (no encrypted store, an unsafe directory, a method refusing its
            # options) or a failed sign-in changes nothing: the persistence goes back.
            with request.session.persistence_undone_on_failure():
                if persistence is not None:
                    strategy, allow = persistence
                    request.session.set_persistence(strategy, allow_unencrypted=allow)
                with _clouds.registered(request.cloud):  # kept only if the sign-in starts
                    login(request, **secrets)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except AuthenticationError as exc:
            raise ui_display.one_line(exc) from None
        if self.shell is not None:  # None only for a magics object built outside IPython
            self.shell.user_ns[var] = request.session.credential()
        if args.export or args.export_scopes:
            from .._identity_export import export_after_sign_in  # azure-core, as above

            export_after_sign_in(request.session, args.export_scopes)

    def _persistence(self, args: Any) -> tuple[Any, bool | None] | None:
        """--persist / --allow-unencrypted, else the config settings, checked: the arguments
        for `Session.set_persistence`, or None to leave it as is."""
        strategy = args.persist if args.persist is not None else self.persist
        allow = True if args.allow_unencrypted or self.allow_unencrypted else None
        if strategy is None and allow is None:
            return None
        try:
            parsed = Persistence.parse(strategy, "--persist") if strategy is not None else None
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        return parsed, allow

    def _request(self, args: Any, method: str) -> LoginRequest:
        """The parsed line `args`, checked, as a sign-in with `method` on this magic's session."""
        return login_request(args, method, session=self.session, ui=self.ui)
