"""The method registry: each method module declares itself once, and everything reads that.

Adding a method is one new module (ending with ``DECLARATION = Method(...)``) plus one line in
`nbauth._methods._REGISTRY`; these tests fail when the two disagree or a declaration says
something the rest of nbauth cannot honour.
"""

from __future__ import annotations

import inspect
import pkgutil

import pytest
from IPython.core.error import UsageError

import nbauth._methods as methods
from nbauth._magics.azlogin import AzloginMagics
from nbauth._methods import auto, available, canonical_name, declaration, declarations
from nbauth._methods._method import Method


def _method_modules() -> set[str]:
    return {m.name for m in pkgutil.iter_modules(methods.__path__) if not m.name.startswith("_")}


def test_every_method_module_is_registered_once_under_its_own_name():
    assert set(available()) == _method_modules()
    assert len(available()) == len(set(available()))
    for name in available():
        declared = declaration(name)
        assert isinstance(declared, Method)
        assert declared.name == name, f"{name}.DECLARATION names {declared.name}"
        assert declared.start.__module__ == f"nbauth._methods.{name}"


def test_aliases_are_unique_and_resolve_to_their_method():
    seen: dict[str, str] = {}
    for declared in declarations():
        for alias in declared.aliases:
            assert alias not in available(), f"{alias} is a method name and an alias"
            assert alias not in seen, f"{alias} is claimed by {seen.get(alias)} and {declared.name}"
            seen[alias] = declared.name
            assert canonical_name(alias) == declared.name
            assert canonical_name(alias.upper().replace("_", "-")) == declared.name


def test_unavailable_has_one_signature_for_every_method():
    for declared in declarations():
        if declared.unavailable is None:
            continue
        parameters = list(inspect.signature(declared.unavailable).parameters)
        assert parameters == ["request"], (declared.name, parameters)


def test_declared_options_are_what_the_method_accepts():
    # The registry refuses what a method does not declare, naming the option, not its value,
    # before anything is started (no network: this session has no emulator).
    from nbauth import ConfigurationError, Session

    nbsession = Session()

    for name in ("environment", "client_secret", "azure_cli"):
        with pytest.raises(ConfigurationError) as caught:
            nbsession.login(name, wait=False, not_an_option="s3cret-value")
        text = str(caught.value)
        assert "not_an_option" in text and "s3cret-value" not in text
        for option in declaration(name).options:
            assert option in text


def test_auto_chain_is_read_from_the_declarations():
    placed = sorted(
        (d.auto.order, d.name) for d in declarations() if d.auto and d.auto.order is not None
    )
    chain = [step.name for step in auto.STEPS if step.name != "cached"]
    assert chain == [name for _, name in placed]
    assert {d.name for d in declarations() if d.azure_identity} == auto._SERVICE_METHODS


def test_every_declared_flag_is_an_argument_of_azlogin():
    parser = AzloginMagics.azlogin.parser
    by_flag = {s: a.dest for a in parser._actions for s in a.option_strings}
    for declared in declarations():
        for flag in declared.flags:
            assert by_flag.get(flag.flag) == flag.dest, (declared.name, flag)


@pytest.mark.parametrize(
    ("method", "account_ok"),
    [(d.name, d.account is not None) for d in declarations()],
)
def test_account_flag_follows_the_declaration(method, account_ok):
    from nbauth._magics._login_options import check_account

    if account_ok:
        check_account("alice@contoso.example", method)
    else:
        with pytest.raises(UsageError, match="names a person"):
            check_account("alice@contoso.example", method)
