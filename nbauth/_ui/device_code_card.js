// The device-code card's front end (anywidget ESM).
//
// Everything a server sent (the sign-in address, error text) is set with textContent, never as
// markup. The link's href comes from the kernel, which only fills `link_href` for https (or http
// on a loopback host) addresses; see nbauth/_links.py. The countdown runs here, from
// `expires_on`, so it keeps ticking while the kernel is busy waiting for the sign-in.

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

  const countdown = el("div", "nbauth-dc-countdown");
  const feedback = el("div", "nbauth-dc-feedback");
  feedback.setAttribute("aria-live", "polite");
  const status = el("div", "nbauth-dc-status");
  status.setAttribute("aria-live", "polite");

  card.append(title, reason, accountHint, codeRow, linkRow, warning, countdown, feedback, status);
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
    if (left > 0) {
      countdown.textContent = `The code expires in ${formatRemaining(left)}.`;
      copyButton.disabled = false;
    } else {
      countdown.textContent = "The code has expired.";
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
    code.textContent = model.get("user_code");
    show(codeRow, pending && Boolean(model.get("user_code")));
    show(linkRow, pending);
    renderLink();
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
  ];
  for (const name of traits) model.on(`change:${name}`, renderAll);
  renderAll();
  const timer = setInterval(tick, 1000);

  return () => {
    clearInterval(timer);
    for (const name of traits) model.off(`change:${name}`, renderAll);
  };
}

export default { render };
