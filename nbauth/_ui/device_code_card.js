// The sign-in card's front end (anywidget ESM): a device code to type, or (kind "browser") a
// sign-in page to open and the address it ends on to paste back.
//
// Everything a server sent (the sign-in address, error text) is set with textContent, never as
// markup. The link's href comes from the kernel, which only fills `link_href` for https (or http
// on a loopback host) addresses; see nbauth/_links.py. The countdown runs here, from
// `expires_on`, so it keeps ticking while the kernel is busy waiting for the sign-in.
//
// The pasted address holds a one-time code: it is sent to the kernel once, as the custom message
// {type: "paste", address}, and the field is emptied at once. It is never put in a trait (traits
// are synced and saved with the notebook), never shown back, never logged.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function remaining(expiresOn) {
  return Math.max(0, Math.round(expiresOn - Date.now() / 1000));
}

function formatRemaining(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  return `${minutes}:${rest}`;
}

// Older browsers, or a clipboard API refused because the page is not focused / not secure.
function legacyCopy(text) {
  const area = el("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (err) {
    ok = false;
  }
  area.remove();
  return ok;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (err) {
      // fall through to the legacy path
    }
  }
  return legacyCopy(text);
}

function render({ model, el: root }) {
  const card = el("div", "nbauth-dc");
  card.setAttribute("role", "group");
  card.setAttribute("aria-label", "Azure sign-in");

  const title = el("div", "nbauth-dc-title", "Sign in to Azure");
  const reason = el("div", "nbauth-dc-reason");
  const accountHint = el("div", "nbauth-dc-account");

  const codeRow = el("div", "nbauth-dc-code-row");
  const codeLabel = el("span", "nbauth-dc-code-label", "Code");
  const code = el("code", "nbauth-user-code");
  code.setAttribute("aria-label", "sign-in code");
  const copyButton = el("button", "nbauth-copy-open");
  copyButton.type = "button";
  codeRow.append(codeLabel, code, copyButton);

  const linkRow = el("div", "nbauth-dc-link-row");
  const linkLabel = el("span", "nbauth-dc-link-label", "Sign-in page: ");
  const linkSlot = el("span", "nbauth-dc-link");
  linkRow.append(linkLabel, linkSlot);
  const warning = el("div", "nbauth-dc-warning");

  // The browser sign-in: a link that looks like a button (a new tab, also by middle-click),
  // then one field for the address the browser ends on.
  const openLink = el("a", "nbauth-open-page", "Open sign-in page");
  openLink.target = "_blank";
  openLink.rel = "noopener noreferrer";
  const paste = el("form", "nbauth-dc-paste");
  paste.setAttribute("autocomplete", "off");
  const pasteLabel = el("label", "nbauth-dc-paste-label");
  const pasteRow = el("div", "nbauth-dc-paste-row");
  const pasteInput = el("input", "nbauth-paste-address");
  pasteInput.type = "text";
  pasteInput.autocomplete = "off";
  pasteInput.spellcheck = false;
  pasteInput.setAttribute("autocapitalize", "off");
  pasteInput.setAttribute("aria-label", "the address your browser ends on after signing in");
  // Lumino (JupyterLab, Notebook 7) leaves the keys typed here to the field.
  pasteInput.setAttribute("data-lm-suppress-shortcuts", "true");
  const pasteButton = el("button", "nbauth-paste-submit", "Finish sign-in");
  pasteButton.type = "submit";
  pasteRow.append(pasteInput, pasteButton);
  const pasteError = el("div", "nbauth-dc-paste-error");
  pasteError.setAttribute("role", "alert");
  paste.append(pasteLabel, pasteRow, pasteError);

  const countdown = el("div", "nbauth-dc-countdown");
  const feedback = el("div", "nbauth-dc-feedback");
  feedback.setAttribute("aria-live", "polite");
  const status = el("div", "nbauth-dc-status");
  status.setAttribute("aria-live", "polite");

  card.append(
    title,
    reason,
    accountHint,
    codeRow,
    openLink,
    linkRow,
    warning,
    paste,
    countdown,
    feedback,
    status,
  );
  root.appendChild(card);

  function show(node, visible) {
    node.style.display = visible ? "" : "none";
  }

  function renderLink() {
    const uri = model.get("verification_uri");
    const href = model.get("link_href");
    linkSlot.replaceChildren();
    if (href) {
      const a = el("a", "nbauth-dc-anchor", uri);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      linkSlot.appendChild(a);
    } else {
      linkSlot.appendChild(el("span", "nbauth-unsafe-link", uri));
    }
    copyButton.textContent = href ? "Copy code and open sign-in page" : "Copy code";
    if (href) openLink.href = href;
    else openLink.removeAttribute("href");
    const warn = model.get("link_warning");
    warning.textContent = warn;
    show(warning, Boolean(warn));
  }

  function tick() {
    const pending = model.get("state") === "pending";
    const expiresOn = model.get("expires_on");
    if (!pending || !expiresOn) {
      countdown.textContent = "";
      return;
    }
    const left = remaining(expiresOn);
    const what = model.get("kind") === "browser" ? "This sign-in" : "The code";
    if (left > 0) {
      countdown.textContent = `${what} expires in ${formatRemaining(left)}.`;
      copyButton.disabled = false;
    } else {
      countdown.textContent = `${what} has expired.`;
      copyButton.disabled = true;
    }
  }

  function renderAll() {
    const state = model.get("state");
    const pending = state === "pending";
    card.dataset.state = state;
    reason.textContent = model.get("reason");
    show(reason, Boolean(model.get("reason")));
    const hint = model.get("account_hint");
    accountHint.textContent = hint ? `Sign in as ${hint}` : "";
    show(accountHint, Boolean(hint) && pending);
    const browser = model.get("kind") === "browser";
    code.textContent = model.get("user_code");
    show(codeRow, pending && !browser && Boolean(model.get("user_code")));
    renderLink();
    show(openLink, pending && browser && Boolean(model.get("link_href")));
    // The authorize address is long: shown as text only when it may not be a link.
    show(linkRow, pending && (!browser || !model.get("link_href")));
    pasteLabel.textContent = model.get("paste_hint");
    pasteInput.placeholder = "http://localhost:…/?code=…";
    const checking = model.get("checking");
    pasteInput.disabled = checking;
    pasteButton.disabled = checking;
    pasteButton.textContent = checking ? "Checking…" : "Finish sign-in";
    pasteError.textContent = model.get("paste_error");
    show(pasteError, Boolean(model.get("paste_error")));
    show(paste, pending && browser);
    if (!pending) show(warning, false);
    show(countdown, pending);
    show(feedback, pending && Boolean(feedback.textContent));
    status.textContent = model.get("status");
    show(status, Boolean(model.get("status")));
    tick();
  }

  copyButton.addEventListener("click", async () => {
    const text = model.get("user_code");
    const href = model.get("link_href");
    const copied = await copyText(text);
    if (href) window.open(href, "_blank", "noopener");
    feedback.textContent = copied
      ? "Code copied: paste it on the sign-in page."
      : "Could not copy the code; type it on the sign-in page.";
    show(feedback, true);
  });

  openLink.addEventListener("click", () => {
    feedback.textContent = "Sign in on the new tab, then paste here the address it ends on.";
    show(feedback, true);
  });

  paste.addEventListener("submit", (event) => {
    event.preventDefault();
    event.stopPropagation();
    const address = pasteInput.value;
    pasteInput.value = ""; // out of the page at once: see the top of this file
    if (!address.trim()) {
      pasteError.textContent = "Paste the whole address from your browser's address bar first.";
      show(pasteError, true);
      return;
    }
    feedback.textContent = "";
    model.send({ type: "paste", address });
  });

  const traits = [
    "state",
    "user_code",
    "verification_uri",
    "link_href",
    "link_warning",
    "expires_on",
    "account_hint",
    "reason",
    "status",
    "kind",
    "paste_hint",
    "paste_error",
    "checking",
  ];
  // A device code that goes on in the browser: what was said about the code is stale (first,
  // so that the render below hides the emptied line).
  const clearFeedback = () => {
    feedback.textContent = "";
  };
  model.on("change:kind", clearFeedback);
  for (const name of traits) model.on(`change:${name}`, renderAll);
  renderAll();
  const timer = setInterval(tick, 1000);

  return () => {
    clearInterval(timer);
    for (const name of traits) model.off(`change:${name}`, renderAll);
    model.off("change:kind", clearFeedback);
  };
}

export default { render };
