"""The error of a sign-in method that cannot work here (tool missing, variables unset, ...)."""

from __future__ import annotations

from .._errors import SignInError

__all__ = ["MethodUnavailable"]


class MethodUnavailable(SignInError):
    """A sign-in method cannot be used in this kernel: a tool is not installed, environment
    variables are not set, no managed identity endpoint answers...

    Attributes: ``method`` (its name, e.g. ``azure_cli``), ``reason`` (what is missing) and
    ``fix`` (what to install, set or run). Never holds a secret: only names of variables and
    options, never their values. The ``auto`` chain skips methods that raise this.
    """

    def __init__(self, method: str, reason: str, fix: str = "") -> None:
        reason = reason.strip().rstrip(".")
        fix = fix.strip()
        super().__init__(
            f"Sign-in method {method!r} is not available here: {reason}. {fix}".strip()
        )
        # After the base __init__: azure-core's HttpResponseError resets `reason` to None.
        self.method = method
        self.reason = reason
        self.fix = fix
