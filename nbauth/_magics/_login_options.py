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
from .._methods import declaration, declarations
from .._methods._method import Flag

__all__ = ["check_account", "method_options", "parse_option"]

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
    """``--account``: a username, with a method that knows what to do with one (its
    declaration's ``account``; see `nbauth._methods._method`)."""
    if declaration(method).account is None:
        takers = [m.name for m in declarations() if m.account is not None]
        raise UsageError(
            f"--account names a person; it goes with --method {', '.join(takers)}, not {method}."
        )
    if "@" not in account:
        raise UsageError(
            f"--account needs a username such as alice@contoso.com; got {shown(account)}."
        )


def method_options(args: Any, method: str) -> dict[str, Any]:
    """The method options of the line: its flags, then ``--option``s (each once)."""
    declared = declaration(method)
    options: dict[str, Any] = {}
    for flag in _flags():
        value = getattr(args, flag.dest)
        if value is None:
            continue
        if flag not in declared.flags:
            owner = next(m.name for m in declarations() if flag in m.flags)
            raise UsageError(
                f"{flag.flag} goes with --method {owner}; add it, or drop {flag.flag}."
            )
        options[flag.option] = os.path.expanduser(value) if flag.path else value
    for needed in declared.flags:
        if needed.required and needed.option not in options:
            raise UsageError(f"--method {method} needs {needed.flag} {needed.required}")
    if args.account is not None and declared.account == "login_hint":
        options["login_hint"] = args.account
    for text in args.options or ():
        name, value = parse_option(text)
        if not declared.options:
            raise UsageError(
                f"--method {method} takes no --option; other methods do (e.g. --method "
                f"azure_cli --option subscription=<id>)."
            )
        if name in options:
            raise UsageError(f"The option {name} is given twice.")
        options[name] = value
    return options


def _flags() -> list[Flag]:
    """Every method's ``%azlogin`` flags; each is an argument of the magic (a test checks)."""
    return [flag for method in declarations() for flag in method.flags]
