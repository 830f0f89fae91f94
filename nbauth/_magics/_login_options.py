"""``%azlogin``'s method options: which flags go with which method, and ``--option NAME=VALUE``.

Secrets never come from the magic's line (it is saved with the notebook): ``--option`` refuses
names that look like secrets, and a password is asked for (see `._password_prompt`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from IPython.core.error import UsageError

from .._arguments import shown

__all__ = ["check_account", "method_options", "parse_option"]

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


def check_account(account: str, method: str) -> None:
    """``--account``: a username, with a method a person signs in with."""
    if method not in _PERSON_METHODS:
        raise UsageError(
            f"--account names a person; it goes with --method "
            f"{', '.join(_PERSON_METHODS)}, not {method}."
        )
    if "@" not in account:
        raise UsageError(
            f"--account needs a username such as alice@contoso.com; got {shown(account)}."
        )


def method_options(args: Any, method: str) -> dict[str, Any]:
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
