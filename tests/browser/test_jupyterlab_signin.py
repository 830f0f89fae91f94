"""A person in JupyterLab signs in with one click plus the code, picks a subscription, and uses
the credential in the next cell.

JupyterLab (started by the test) runs ``tests/notebooks/browser_signin.ipynb`` in Debian's
Chromium: ``%azlogin`` shows the device-code card; "Copy code and open sign-in page" puts the
code on the clipboard and opens the emulator's device-login page in a new tab, where the code is
pasted, Alice picked and the sign-in approved; the card turns into the signed-in badge;
``%azsubscription``'s picker is filtered and a subscription chosen; the last cell lists the blobs
of an Azurite container with ``credential``. A second test cancels sign-ins with the stop button
(blocking) and the card's Cancel button (``--no-wait``).

Screenshots: ``test-artifacts/browser/01-card.png`` ... ``06-cancel-button.png``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALICE = "alice@contoso.example"
DATA_SCIENCE = "c0a50002-0000-4000-8000-000000000002"  # "Contoso Data Science" in the seed
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def css(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).{prop}")


def card_look_problems(card, text) -> list[str]:
    """What a person would see as wrong with the pending card (checked after the flow, so one
    styling problem does not hide whether the sign-in works)."""
    problems = []
    code = card.locator(".nbauth-user-code")
    size = float(css(code, "fontSize").removesuffix("px"))
    body = float(css(text, "fontSize").removesuffix("px"))
    if size < 1.5 * body:
        problems.append(f"the code is not large: {size}px, the card's text {body}px")
    if "mono" not in css(code, "fontFamily").lower():
        problems.append(f"the code is not monospace: {css(code, 'fontFamily')}")
    link = card.locator("a.nbauth-dc-anchor")
    if "underline" not in css(link, "textDecorationLine") and css(link, "color") == css(
        text, "color"
    ):
        problems.append(
            "the sign-in link looks like plain text (same colour as the text, no underline): "
            f"color {css(link, 'color')}, text-decoration {css(link, 'textDecorationLine')}"
        )
    return problems


def assert_saved_notebook_is_clean(path: Path, admin, *gone: str) -> None:
    text = path.read_text()
    state = json.loads(text)["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    assert state, "JupyterLab saved no widget state; the leak check would miss it"
    issued = admin.issued()
    assert issued["device_codes"] and issued["access_tokens"]
    leaked = [
        kind for kind, values in issued.items() for value in values if value and value in text
    ]
    assert leaked == [], f"the saved notebook holds issued secrets of kinds {sorted(set(leaked))}"
    for value in gone:
        assert value not in text


def test_sign_in_pick_a_subscription_and_list_blobs(
    open_notebook, lab_context, emulator, emu_admin, artifacts
):
    emu_admin.settings(device_code_interval_s=1)
    notebook = open_notebook(NOTEBOOKS / "browser_signin.ipynb")
    page = notebook.page

    notebook.run_cell(0)  # %load_ext nbauth
    notebook.wait_for_cell_done(0)

    # 1. %azlogin shows the card: the code, the button, the link, a countdown, the stop hint.
    notebook.run_cell(1)
    login_output = notebook.cell(1).locator(".jp-OutputArea")
    card = login_output.locator(".nbauth-card")
    code_box = card.locator(".nbauth-user-code")
    code_box.wait_for()
    user_code = code_box.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{9}", user_code), user_code
    assert [p["user_code"] for p in emu_admin.pending()] == [user_code]
    link = card.locator("a.nbauth-dc-anchor")
    assert link.get_attribute("href") == emulator["device_login_url"]
    assert link.inner_text() == emulator["device_login_url"]
    assert re.search(r"expires in \d+:\d\d", card.locator(".nbauth-dc-countdown").inner_text())
    # Blocking: the kernel cannot process a Cancel click, so the card points at the stop button.
    status = card.locator(".nbauth-dc-status")
    assert "stop button" in status.inner_text()
    assert card.locator(".nbauth-cancel").count() == 0
    looks = card_look_problems(card, status)
    page.screenshot(path=str(artifacts / "01-card.png"))
    card.screenshot(path=str(artifacts / "01-card-detail.png"))

    # 2. One click: the code goes to the clipboard and the sign-in page opens in a new tab.
    with lab_context.expect_page() as new_tab:
        card.get_by_role("button", name="Copy code and open sign-in page").click()
    signin_page = new_tab.value
    signin_page.wait_for_load_state()
    assert signin_page.url == emulator["device_login_url"]
    assert page.evaluate("navigator.clipboard.readText()") == user_code
    assert "Code copied" in card.locator(".nbauth-dc-feedback").inner_text()

    # The person pastes the code, picks Alice and approves.
    code_input = signin_page.get_by_placeholder("Code")
    code_input.click()
    signin_page.keyboard.press("Control+V")
    assert code_input.input_value() == user_code
    signin_page.get_by_role("button", name="Next").click()
    signin_page.get_by_text(ALICE).click()
    signin_page.screenshot(path=str(artifacts / "02-device-login.png"))
    signin_page.get_by_role("button", name="Approve").click()
    signin_page.get_by_text("You're signed in").wait_for()
    signin_page.screenshot(path=str(artifacts / "02-device-login-done.png"))

    # 3. The card turns into the signed-in badge; the code is gone from the page.
    page.bring_to_front()
    badge = login_output.locator(".nbauth-badge")
    badge.wait_for()
    notebook.wait_for_cell_done(1)
    assert ALICE in badge.inner_text()
    assert login_output.locator(".nbauth-user-code").count() == 0
    assert user_code not in login_output.inner_text()
    page.screenshot(path=str(artifacts / "03-badge.png"))

    # 4. %azsubscription: filter the picker, choose, and `subscription_id` is set.
    notebook.run_cell(2)
    picker = notebook.cell(2).locator(".nbauth-subscription-picker")
    picker.wait_for()
    notebook.wait_for_cell_done(2)
    # ipywidgets' Select (the list), not the tenant Dropdown (also a <select>).
    listbox = picker.locator(".widget-select:not(.widget-dropdown) select")
    options = listbox.locator("option")
    page.wait_for_function("el => el.options.length >= 2", arg=listbox.element_handle())
    picker.get_by_placeholder("Type to filter by name or ID").fill("data science")
    page.wait_for_function("el => el.options.length === 1", arg=listbox.element_handle())
    assert "Contoso Data Science" in options.first.inner_text().replace(
        "\xa0", " "
    )  # ipywidgets uses nbsp
    if not options.first.evaluate("o => o.selected"):
        listbox.select_option(index=0)
    use = picker.get_by_role("button", name="Use subscription")
    use.click()
    picker.get_by_text(f"Using Contoso Data Science ({DATA_SCIENCE})").wait_for()
    page.screenshot(path=str(artifacts / "03-subscription.png"))
    notebook.run_cell(3)
    notebook.wait_for_cell_done(3)
    assert (
        f"subscription_id = {DATA_SCIENCE}"
        in notebook.cell(3).locator(".jp-OutputArea").inner_text()
    )

    # 5. The next cell lists blobs in Azurite with the kernel's credential.
    notebook.run_cell(4)
    notebook.wait_for_cell_done(4)
    blobs = notebook.cell(4).locator(".jp-OutputArea").inner_text()
    assert "blobs: ['hello.txt']" in blobs, blobs
    page.screenshot(path=str(artifacts / "04-blobs.png"))

    # The file JupyterLab saves (with widget state) holds no secret and no stale code.
    saved = notebook.save()
    assert "hello.txt" in saved.read_text()  # the outputs were saved too
    assert_saved_notebook_is_clean(saved, emu_admin, user_code)

    assert looks == [], "the card works but does not look right:\n- " + "\n- ".join(looks)


def test_stop_button_and_cancel_button(open_notebook, emu_admin, artifacts):
    emu_admin.settings(device_code_interval_s=1)
    notebook = open_notebook(NOTEBOOKS / "browser_cancel.ipynb")
    page = notebook.page
    notebook.run_cell(0)
    notebook.wait_for_cell_done(0)

    # Blocking %azlogin: the toolbar's stop button (a kernel interrupt) cancels it; one line.
    notebook.run_cell(1)
    blocking = notebook.cell(1).locator(".jp-OutputArea")
    blocking.locator(".nbauth-user-code").wait_for()
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) [data-command='notebook:interrupt-kernel']"
    ).click()
    notebook.wait_for_cell_done(1)
    page.get_by_text("Sign-in cancelled.").first.wait_for()
    shown = [line for line in blocking.inner_text().splitlines() if line.strip()]
    assert shown == ["Sign-in cancelled."], shown
    assert blocking.locator(".nbauth-user-code").count() == 0
    page.screenshot(path=str(artifacts / "05-stop-button.png"))

    # --no-wait: the kernel is idle, so the card's Cancel button is there and works.
    notebook.run_cell(2)
    notebook.wait_for_cell_done(2)
    background = notebook.cell(2).locator(".jp-OutputArea")
    background.locator(".nbauth-user-code").wait_for()
    background.get_by_role("button", name="Cancel").click()
    background.locator(".nbauth-dc[data-state='cancelled']").wait_for()
    assert "cancelled" in background.locator(".nbauth-dc-status").inner_text().lower()
    assert (
        background.locator(".nbauth-user-code").count() == 0
        or not background.locator(".nbauth-user-code").inner_text().strip()
    )
    page.screenshot(path=str(artifacts / "06-cancel-button.png"))

    notebook.run_cell(3)
    notebook.wait_for_cell_done(3)
    state = notebook.cell(3).locator(".jp-OutputArea").inner_text()
    assert "pending: None" in state and "account: None" in state, state
    assert "nbauth threads: []" in state, state
