// The sandbox page: polls what the acting person sees (HTML rendered and escaped by the server
// from the bot's own Block Kit) and sends what they do back as JSON; the server turns each action
// into the signed Slack request the bot receives. No framework, no CDN, nothing stored.
"use strict";

const $ = (id) => document.getElementById(id);
const page = { user: null, version: -1, modalId: null, modalHash: null, polling: null };

function notice(text) {
  $("notice").textContent = text || "";
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { status: response.status }; }
  if (!response.ok && data.status === undefined) data.status = response.status;
  return data;
}

function report(result, what) {
  if (result.warning) notice(result.warning);
  else if (result.status && result.status >= 300) {
    const answer = typeof result.answer === "string" ? result.answer : JSON.stringify(result.answer || result.error || "");
    notice(`${what} was refused (${result.status}): ${answer}`);
  }
}

function showPane(name) {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.pane === name));
  }
  for (const pane of ["channel", "home", "ticket"]) $(`pane-${pane}`).hidden = pane !== name;
}

function applyModal(modal) {
  const dialog = $("modal");
  if (!modal) {
    if (dialog.open) dialog.close();
    page.modalId = page.modalHash = null;
    return;
  }
  if (modal.id === page.modalId && modal.hash === page.modalHash) return;
  page.modalId = modal.id;
  page.modalHash = modal.hash;
  $("modal-title").innerHTML = modal.title;
  $("modal-body").innerHTML = modal.html;
  $("modal-body").dataset.viewId = modal.id;
  $("modal-close").innerHTML = modal.close;
  $("modal-submit").hidden = !modal.submit;
  if (modal.submit) $("modal-submit").innerHTML = modal.submit;
  if (!dialog.open) dialog.showModal();
}

function apply(state) {
  page.version = state.version;
  if (state.channel === undefined) return;
  $("channel").innerHTML = state.channel;
  $("home").innerHTML = state.home || '<p class="empty">The bot has not published this Home tab yet.</p>';
  $("dms").innerHTML = state.dms;
  applyModal(state.modal);
}

async function refresh() {
  if (!page.user) return;
  const user = page.user;
  try {
    const response = await fetch(`/sandbox/state?user=${encodeURIComponent(user)}&since=${page.version}`);
    if (response.ok && user === page.user) apply(await response.json());
  } catch (e) {
    notice("The sandbox is not answering (stopped?).");
  }
}

function schedule() {
  clearTimeout(page.polling);
  page.polling = setTimeout(async () => { await refresh(); schedule(); }, 600);
}

function confirmFirst(confirm) {
  // A button's Block Kit confirm dialog; its texts are plain_text, so set as text.
  return new Promise((resolve) => {
    const dialog = $("confirm");
    const text = (obj, fallback) => (obj && obj.text) || fallback;
    $("confirm-title").textContent = text(confirm.title, "Are you sure?");
    $("confirm-text").textContent = text(confirm.text, "");
    $("confirm-ok").textContent = text(confirm.confirm, "Yes");
    $("confirm-deny").textContent = text(confirm.deny, "Cancel");
    const done = (answer) => { dialog.close(); resolve(answer); };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-deny").onclick = () => done(false);
    dialog.oncancel = () => resolve(false);
    dialog.showModal();
  });
}

async function onButton(button) {
  const message = button.closest("article.msg[data-ts]");
  const view = button.closest("[data-view-id]");
  const where = message
    ? { channel: message.dataset.channel, ts: message.dataset.ts }
    : { view_id: view ? view.dataset.viewId : "" };
  if (button.dataset.confirm && !(await confirmFirst(JSON.parse(button.dataset.confirm)))) return;
  if (button.dataset.url) window.open(button.dataset.url, "_blank", "noopener");
  button.disabled = true;
  notice("");
  const result = await post("/sandbox/click", {
    user: page.user, block_id: button.dataset.blockId, action_id: button.dataset.actionId, ...where,
  });
  button.disabled = false;
  report(result, `“${button.textContent}”`);
  await refresh();
}

async function onSubmitModal(event) {
  event.preventDefault();
  const values = {};
  for (const field of $("modal-body").querySelectorAll("[data-input]")) values[field.name] = field.value || "";
  for (const error of $("modal-body").querySelectorAll(".bk-error")) { error.hidden = true; error.textContent = ""; }
  const result = await post("/sandbox/submit", { user: page.user, view_id: page.modalId, values });
  if (result.errors) {
    for (const [block, message] of Object.entries(result.errors)) {
      const slot = document.getElementById(`err-${block}`);
      if (slot) { slot.textContent = message; slot.hidden = false; slot.setAttribute("role", "alert"); }
    }
    return;
  }
  report(result, "The form");
  page.version = -1;
  await refresh();
}

async function onCloseModal() {
  const viewId = page.modalId;
  $("modal").close();
  page.modalId = page.modalHash = null;
  if (viewId) await post("/sandbox/close", { user: page.user, view_id: viewId });
}

async function onCommand(event) {
  event.preventDefault();
  const text = $("command").value.trim();
  if (!text.startsWith("/signoff")) {
    notice("Only the /signoff command reaches the bot here (try /signoff help).");
    return;
  }
  notice("");
  $("command").value = "";
  report(await post("/sandbox/command", { user: page.user, text }), "The command");
  await refresh();
}

async function onTicket(event) {
  event.preventDefault();
  const form = event.target;
  const result = await post("/sandbox/ticket", Object.fromEntries(new FormData(form)));
  if (result.status >= 200 && result.status < 300) {
    notice("Ticket accepted: its card appears in #signoff-review if it needs a human.");
    form.reset();
  } else {
    report(result, "The ticket");
  }
}

async function openHome() {
  showPane("home");
  report(await post("/sandbox/home", { user: page.user }), "Opening Home");
}

async function start() {
  const info = await (await fetch("/sandbox/info")).json();
  for (const person of info.people) {
    const option = new Option(person.name, person.id);
    $("who").append(option);
  }
  page.user = info.people[0].id;
  $("who").addEventListener("change", async () => {
    page.user = $("who").value;
    page.version = -1;
    page.modalId = page.modalHash = null;
    if ($("modal").open) $("modal").close();
    if (!$("pane-home").hidden) await openHome();
    await refresh();
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.bk-button[data-action-id]");
    if (button) onButton(button);
  });
  $("tab-channel").addEventListener("click", () => showPane("channel"));
  $("tab-home").addEventListener("click", openHome);
  $("tab-ticket").addEventListener("click", () => showPane("ticket"));
  $("modal-form").addEventListener("submit", onSubmitModal);
  $("modal-close").addEventListener("click", onCloseModal);
  $("modal").addEventListener("cancel", (event) => { event.preventDefault(); onCloseModal(); });
  $("command-form").addEventListener("submit", onCommand);
  $("ticket-form").addEventListener("submit", onTicket);
  await refresh();
  schedule();
}

start();
