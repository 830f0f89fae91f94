"""Parsing a magic's line so that its errors never repeat what was typed after a flag.

argparse quotes the rest of the line in its errors ("unrecognized arguments: --client-secret
VALUE", "ambiguous option: --a=VALUE", "ignored explicit argument 'VALUE'"), and a magic's error
is saved with the notebook. The value after an unknown flag is the one most likely to be a
secret (``--client-secret``, ``--password``), so every value is replaced by ``…``: flag names
stay, because they say what went wrong.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring
from IPython.utils.process import arg_split

from .._base_errors import redact

__all__ = ["parse", "without_values"]

_FLAG = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]{0,40}")
_SECRET_FLAG = re.compile(r"secret|passw|token|key|pwd", re.IGNORECASE)
_HIDDEN = "…"


def parse(magic: Any, line: str) -> Any:
    """`parse_argstring` for `magic` (a bound magic method); its errors as `UsageError`s that
    name flags but repeat no value, and end with where the options are described."""
    name = "%" + magic.parser.prog
    try:
        return parse_argstring(magic, line)
    except UsageError as exc:
        message = without_values(str(exc), line)
    except ValueError:  # shlex: "No closing quotation"
        message = "a quotation mark is not closed"
    raise UsageError(f"{name}: {message}.{_secret_hint(line)} See `{name}?` for its options.")


def without_values(message: str, line: str) -> str:
    """`message` with every value of `line` (anything but a flag name) replaced by ``…``."""
    values: set[str] = set()
    for token in arg_split(line, strict=False):
        flag, sep, rest = token.partition("=")
        if _FLAG.fullmatch(flag):
            if sep and rest:
                values.add(rest)
        elif token:
            values.add(token)
    for value in sorted(values, key=len, reverse=True):
        # Whole tokens only, as argparse quotes them: a short value must not eat a word.
        pattern = r"(?<![^\s='\"])" + re.escape(value) + r"(?![^\s'\",.])"
        message = re.sub(pattern, _HIDDEN, message)
    return redact(message).rstrip(".")


def _secret_hint(line: str) -> str:
    flags = [token.partition("=")[0] for token in arg_split(line, strict=False)]
    if not any(_FLAG.fullmatch(flag) and _SECRET_FLAG.search(flag) for flag in flags):
        return ""
    return (
        " A secret never goes on a magic's line (it is saved with the notebook, so the value "
        "was not repeated here): set AZURE_CLIENT_SECRET before starting Jupyter for "
        "--method client_secret, and --method username_password asks for the password."
    )
