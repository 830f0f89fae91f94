"""Sign in where device code is blocked, in JupyterLab and in Notebook 7 (issue 12).

A remote kernel (``NBAUTH_KERNEL_LOCATION=remote``, as on JupyterHub) whose tenant refuses the
device-code flow (the emulator's Conditional Access: ``block_device_code``). In Debian's
Chromium, a person runs ``%azlogin``: the card shows a code; on the device-login page they enter
it and pick Alice, and the page refuses with error 53003; the card goes on in the browser (the
cell ends, so the card can take input); "Open sign-in page" opens the emulator's authorize page
in a new tab, where Alice is picked; the tab ends on a closed ``localhost`` port (the browser's
error page); its address is pasted into the card, the badge appears, and the next cell lists
Azurite's blobs with the credential. Nothing in the card is Lab-only: the same test runs in
Notebook 7.

Screenshots: ``test-artifacts/browser/paste-<frontend>-*.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_jupyterlab_signin import assert_saved_notebook_is_clean

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "browser_paste_back.ipynb"
ALICE = "alice@contoso.example"


def test_device_code_refused_then_browser_sign_in_by_pasting_the_address(
    remote_notebook, emu_admin, artifacts
):
    context, notebook, frontend = remote_notebook
    page = notebook.page
    shot = lambda name: page.screenshot(path=str(artifacts / f"paste-{frontend}-{name}.png"))  # noqa: E731
    emu_admin.settings(block_device_code=True, device_code_interval_s=1)
    try:
        notebook.run_cell(0)  # %load_ext nbauth
        notebook.wait_for_cell_done(0)

        # 1. %azlogin shows the device code; the person enters it and picks Alice.
        notebook.run_cell(1)
        output = notebook.cell(1).locator(".jp-OutputArea")
        card = output.locator(".nbauth-card")
        code_box = card.locator(".nbauth-user-code")
        code_box.wait_for()
        user_code = code_box.inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]{9}", user_code), user_code
        shot("01-device-code")
        with context.expect_page() as tab:
            card.get_by_role("button", name=re.compile("open sign-in page")).click()
        device_page = tab.value
        device_page.wait_for_load_state()
        device_page.get_by_placeholder("Code").fill(user_code)
        device_page.get_by_role("button", name="Next").click()
        device_page.get_by_text(ALICE).click()
        device_page.get_by_role("button", name="Approve").click()
        # 2. The page refuses as Entra does: Conditional Access, error 53003.
        device_page.get_by_text("53003").first.wait_for()
        device_page.screenshot(path=str(artifacts / f"paste-{frontend}-02-refused-53003.png"))
        device_page.close()

        # 3. The same card goes on in the browser and says why; the cell ends (input works).
        page.bring_to_front()
        open_page = card.get_by_role("link", name="Open sign-in page")
        open_page.wait_for()
        assert "53003" in card.locator(".nbauth-dc-reason").inner_text()
        notebook.wait_for_cell_done(1)
        assert card.locator(".nbauth-user-code").inner_text().strip() == ""
        shot("03-browser-card")

        # 4. Open sign-in page: the authorize page in a new tab; Alice is picked.
        # The tab ends on localhost, where nothing listens: the browser's error page, with the
        # address (what the address bar shows, and what the person copies) in its request.
        ended: list[str] = []

        def note(request) -> None:
            if re.match(r"^http://localhost:\d+/?\?.*code=", request.url):
                ended.append(request.url)

        context.on("request", note)
        with context.expect_page() as tab:
            open_page.click()
        authorize = tab.value
        authorize.wait_for_load_state()
        assert "/oauth2/v2.0/authorize" in authorize.url
        authorize.get_by_text(ALICE).click()
        authorize.get_by_role("button", name="Approve").click()
        for _ in range(100):
            if ended:
                break
            authorize.wait_for_timeout(100)
        assert ended, "the sign-in page never sent the browser to localhost"
        address = ended[0]
        try:  # Chromium sometimes cannot capture its own error page; the picture is optional
            authorize.screenshot(path=str(artifacts / f"paste-{frontend}-04-cannot-reach.png"))
        except Exception:  # noqa: BLE001 - playwright's Error
            pass
        authorize.close()

        # 5. The person pastes the whole address into the card: the badge appears.
        page.bring_to_front()
        field = card.locator("input.nbauth-paste-address")
        field.fill(address)
        card.get_by_role("button", name="Finish sign-in").click()
        badge = output.locator(".nbauth-badge")
        badge.wait_for()
        assert ALICE in badge.inner_text()
        shot("05-badge")

        # 6. The next cell lists Azurite's blobs with the kernel's credential.
        notebook.run_cell(2)
        notebook.wait_for_cell_done(2)
        blobs = notebook.cell(2).locator(".jp-OutputArea").inner_text()
        assert "blobs: ['hello.txt']" in blobs, blobs
        shot("06-blobs")

        # The saved notebook (outputs and widget state) holds no code, token or address.
        saved = notebook.save()
        assert_saved_notebook_is_clean(saved, emu_admin, user_code, address)
        text = saved.read_text()
        for code in emu_admin.issued().get("authorization_codes", []):
            assert code not in text
    finally:
        emu_admin.settings(block_device_code=False)
