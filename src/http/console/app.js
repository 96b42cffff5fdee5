// tokend console: plain ES module over tokend's public REST API (DESIGN §11). No framework, no
// build step, no other origin. The session JWT lives in sessionStorage only; a new token's
// value lives in one variable of the page that shows it, never in a URL, the title, history,
// storage or a log.

const SESSION_KEY = "tokend.session";
const main = document.getElementById("main");
const notice = document.getElementById("notice");
let profile = null;
let catalog = null;

// ---------------------------------------------------------------------------------------------
// DOM and formatting helpers

/** Builds an element: h("a", {href: "#/"}, "text", child…); attributes starting with "on" are listeners. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children, skipping absent ones (null, undefined, false). */
function fill(el, ...nodes) {
  el.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

// Lists count their items up to this many (`total_count`'s maximum in the OpenAPI document): a
// total of it means at least as many.
const COUNT_CAP = 10000;

/** The pager's count: "57 in all", or "10,000 or more" once a list reaches the API's cap. */
function totalText(total) {
  return total >= COUNT_CAP ? `${COUNT_CAP.toLocaleString()} or more` : `${total.toLocaleString()} in all`;
}

function show(...nodes) {
  fill(main, ...nodes);
  main.focus();
}

function say(message, ok = false) {
  notice.textContent = message;
  notice.className = ok ? "ok" : "";
  notice.hidden = !message;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["year", 31536e6], ["month", 2592e6], ["day", 864e5], ["hour", 36e5], ["minute", 6e4]];

function ago(iso) {
  const diff = new Date(iso).getTime() - Date.now();
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms) return relative.format(Math.round(diff / ms), unit);
  }
  return relative.format(Math.round(diff / 1000), "second");
}

/** A <time> with the relative text and the exact time on hover. */
function when(iso, extra = "") {
  if (!iso) return "never";
  const exact = new Date(iso).toLocaleString();
  return h("time", { datetime: iso, title: extra ? `${exact} · ${extra}` : exact }, ago(iso));
}

function expiry(token) {
  if (!token.expires_at) return "never";
  const days = (new Date(token.expires_at).getTime() - Date.now()) / 864e5;
  const exact = new Date(token.expires_at).toLocaleString();
  if (days < 0) return h("time", { datetime: token.expires_at, title: exact }, `expired ${ago(token.expires_at)}`);
  const text = days < 60 ? `in ${Math.max(1, Math.ceil(days))} days` : new Date(token.expires_at).toLocaleDateString();
  return h("time", { datetime: token.expires_at, title: exact, class: days < 7 ? "soon" : null }, text);
}

function scopeSummary(scopes) {
  const sorted = [...scopes].sort().join(" ");
  const preset = (catalog?.presets || []).find((p) => [...p.scopes].sort().join(" ") === sorted);
  return preset ? preset.name : scopes.join(", ") || "—";
}

function statusCell(token) {
  const label = token.status === "revoked" && token.revoked_reason
    ? `revoked: ${token.revoked_reason}` : token.status;
  return h("span", { class: `status-${token.status}` }, label);
}

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(SESSION_KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
  });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401) signOut("Your session has ended; sign in again.");
    throw new ApiError(response.status, payload);
  }
  return payload;
}

/** Runs an action, showing its failure (the problem's detail) instead of a blank page. */
async function attempt(action) {
  try {
    say("");
    return await action();
  } catch (error) {
    say(error.message || String(error));
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Sign-in: the platform hands over the JWT in the fragment (#session=…), removed at once.

function takeSession() {
  const match = /^#session=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(SESSION_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", `${location.pathname}#/`);
  }
  return sessionStorage.getItem(SESSION_KEY);
}

function signOut(message = "You are signed out.") {
  sessionStorage.removeItem(SESSION_KEY);
  profile = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  say("");
  show(
    h("h1", {}, "Signed out"),
    h("p", {}, message),
    h("p", {}, "Sign in from your platform: it opens this console with your session. In development, ",
      h("a", { href: "/console/login" }, "sign in as any user"), "."),
  );
}

document.getElementById("sign-out").addEventListener("click", () => signOut());

// ---------------------------------------------------------------------------------------------
// Pages

function adminOrgs() {
  return (profile?.organizations || []).filter((o) => o.role === "admin" || o.role === "owner");
}

function pageFromHash() {
  const hash = location.hash.replace(/^#/, "") || "/";
  if (hash === "/new") return newTokenPage();
  let match = /^\/tokens\/([^/]+)$/.exec(hash);
  if (match) return tokenPage(decodeURIComponent(match[1]));
  match = /^\/orgs\/([^/]+)$/.exec(hash);
  if (match) return organizationPage(decodeURIComponent(match[1]));
  return tokensPage();
}

/** A list of tokens with filters, paging, selection and row actions. */
function tokenTable({ load, empty, orgFilter, kinds, oversight = false }) {
  const state = { cursor: null, direction: "after", selected: new Set() };
  const wrap = h("div", {});
  const filters = h("form", { class: "filters", "aria-label": "Filters", onsubmit: (e) => { e.preventDefault(); state.cursor = null; refresh(); } },
    kinds.length > 1 ? h("div", {}, h("label", { for: `f-kind-${kinds[0]}` }, "Kind"),
      h("select", { id: `f-kind-${kinds[0]}`, name: "kind" }, h("option", { value: "" }, "All"),
        ...kinds.map((k) => h("option", { value: k }, k)))) : null,
    h("div", {}, h("label", { for: `f-status-${kinds[0]}` }, "Status"),
      h("select", { id: `f-status-${kinds[0]}`, name: "status" }, h("option", { value: "" }, "All"),
        ...["active", "expired", "revoked"].map((s) => h("option", { value: s }, s)))),
    orgFilter ? h("div", {}, h("label", { for: "f-org" }, "Organization"),
      h("select", { id: "f-org", name: "organization_id" }, h("option", { value: "" }, "All"),
        ...(profile?.organizations || []).map((o) => h("option", { value: o.id }, o.name)))) : null,
    h("div", {}, h("label", { for: `f-q-${kinds[0]}` }, "Name contains"), h("input", { id: `f-q-${kinds[0]}`, name: "q", type: "search" })),
    h("div", {}, h("button", { type: "submit" }, "Filter")),
  );
  const bulk = h("div", { class: "actions" },
    h("button", { type: "button", id: `bulk-revoke-${kinds[0]}`, onclick: () => bulkAction("revoke") }, "Revoke selected"),
    oversight ? null : h("button", { type: "button", id: "bulk-remove", class: "danger", onclick: () => bulkAction("delete") }, "Remove selected"),
    h("button", { type: "button", onclick: () => refresh() }, "Refresh"),
  );
  const results = h("div", { "aria-live": "polite" });

  async function bulkAction(which) {
    const ids = [...state.selected];
    if (!ids.length) return say("Select tokens first.");
    if (ids.length > 100) return say("At most 100 at once.");
    let body = { ids };
    if (which === "revoke") {
      const reason = await askReason(`Revoke ${ids.length} token(s)?`);
      if (reason === null) return;
      body = reason ? { ids, reason } : { ids };
    } else if (!confirm(`Remove ${ids.length} token(s)? This cannot be undone.`)) return;
    const answer = await attempt(() => api("POST", `/v1/tokens/bulk-${which}`, body));
    if (!answer) return;
    fill(results, h("ul", {}, ...answer.results.map((r) =>
      h("li", { class: r.result === "not_found" ? "result-error" : "result-ok" }, `${r.id}: ${r.result.replace("_", " ")}`))));
    state.selected.clear();
    refresh();
  }

  async function refresh() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
    params.set("limit", "25");
    if (state.cursor) params.set(state.direction, state.cursor);
    const page = await attempt(() => load(params));
    if (!page) return;
    if (!page.items.length) {
      fill(wrap, h("p", { class: "empty" }, empty));
      return;
    }
    const rows = page.items.map((t) => {
      const box = h("input", { type: "checkbox", "aria-label": `Select ${t.name}`, checked: state.selected.has(t.id),
        onchange: (e) => (e.target.checked ? state.selected.add(t.id) : state.selected.delete(t.id)) });
      return h("tr", {},
        h("td", {}, box),
        h("td", {}, h("a", { href: `#/tokens/${encodeURIComponent(t.id)}` }, t.name),
          t.description ? h("div", { class: "sub" }, t.description) : null),
        h("td", {}, t.kind),
        h("td", { class: "hide-narrow" }, h("code", {}, t.hint)),
        h("td", { class: "hide-narrow" }, t.organization_ids.join(", ") || "—"),
        h("td", { class: "hide-narrow" }, scopeSummary(t.scopes)),
        h("td", {}, when(t.last_used_at, `${t.usage_count} uses${t.last_used_ip ? ` · from ${t.last_used_ip}` : ""}`)),
        h("td", {}, expiry(t)),
        h("td", {}, statusCell(t)),
        h("td", {}, rowActions(t, refresh, oversight)));
    });
    const pager = h("div", { class: "actions" },
      h("span", { id: "list-total" }, totalText(page.total_count)),
      h("button", { type: "button", disabled: !page.page_info.has_previous_page,
        onclick: () => { state.cursor = page.page_info.start_cursor; state.direction = "before"; refresh(); } }, "Previous"),
      h("button", { type: "button", disabled: !page.page_info.has_next_page,
        onclick: () => { state.cursor = page.page_info.end_cursor; state.direction = "after"; refresh(); } }, "Next"));
    fill(wrap, 
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, h("span", { class: "visually-hidden" }, "Select")), h("th", {}, "Name"), h("th", {}, "Kind"),
          h("th", { class: "hide-narrow" }, "Hint"), h("th", { class: "hide-narrow" }, "Organizations"),
          h("th", { class: "hide-narrow" }, "Scopes"), h("th", {}, "Last used"), h("th", {}, "Expires"),
          h("th", {}, "Status"), h("th", {}, "Actions"))),
        h("tbody", {}, rows))),
      pager);
  }

  refresh();
  return h("div", {}, filters, bulk, results, wrap);
}

/** A row's actions: all of them for the caller's own tokens; an organization's overseers
 * regenerate and revoke its api tokens and revoke its members' agent connections. */
function rowActions(token, refresh, oversight = false) {
  const live = token.status !== "revoked";
  const agentOversight = oversight && token.kind === "agent";
  return h("div", { class: "actions" },
    live && !agentOversight ? h("button", { type: "button", onclick: () => regenerate(token) }, "Regenerate") : null,
    token.kind !== "api" && !oversight ? h("button", { type: "button", onclick: () => duplicate(token) }, "Duplicate") : null,
    live ? h("button", { type: "button", class: "danger", onclick: async () => {
      const reason = await askReason(`Revoke “${token.name}”?`);
      if (reason === null) return;
      const done = await attempt(() => api("POST", `/v1/tokens/${encodeURIComponent(token.id)}/revoke`, reason ? { reason } : {}));
      if (done) { say(`“${token.name}” revoked.`, true); refresh(); }
    } }, "Revoke") : null,
    oversight ? null : h("button", { type: "button", class: "danger", onclick: async () => {
      if (!confirm(`Delete “${token.name}”? This cannot be undone.`)) return;
      const done = await attempt(() => api("DELETE", `/v1/tokens/${encodeURIComponent(token.id)}`));
      if (done !== undefined) { say(`“${token.name}” deleted.`, true); refresh(); }
    } }, "Delete"));
}

/** Asks for an optional revocation reason; null when cancelled. */
function askReason(question) {
  return new Promise((resolve) => {
    const input = h("input", { id: "reason", name: "reason", maxlength: 200, autocomplete: "off" });
    const dialog = h("dialog", { "aria-labelledby": "reason-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "reason-title" }, question),
        h("label", { for: "reason" }, "Reason (optional)"), input,
        h("div", { class: "actions" },
          h("button", { value: "cancel", type: "submit" }, "Cancel"),
          h("button", { value: "ok", type: "submit", class: "primary danger" }, "Revoke"))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" ? input.value.trim() : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** Shows a new value once, with Copy and Download; it is kept nowhere else. The address
 * becomes `#/shown` (no value in it): any navigation, even to the list the page came from,
 * leaves the value behind, and a reload shows the list. */
function secretPanel(created, verb) {
  const value = created.token;
  history.replaceState(null, "", "#/shown");
  return h("section", { class: "secret", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, `Token “${created.name}” ${verb}`),
    h("p", {}, h("strong", {}, "Copy it now: you will not see it again."), " Only its hint (",
      h("code", {}, created.hint), ") is shown from now on."),
    h("code", { id: "secret-value" }, value),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: async () => {
        try { await navigator.clipboard.writeText(value); say("Copied.", true); } catch { say("Copy failed: select the value and copy it yourself."); }
      } }, "Copy"),
      h("button", { type: "button", onclick: () => {
        const link = h("a", { href: URL.createObjectURL(new Blob([`${value}\n`], { type: "text/plain" })), download: `${created.name}.token` });
        document.body.append(link); link.click(); URL.revokeObjectURL(link.href); link.remove();
      } }, "Download"),
      h("a", { href: `#/tokens/${encodeURIComponent(created.id)}` }, "Open the token")));
}

async function regenerate(token) {
  if (!confirm(`Regenerate “${token.name}”? The current value stops working at once.`)) return;
  const created = await attempt(() => api("POST", `/v1/tokens/${encodeURIComponent(token.id)}/regenerate`));
  if (created) show(h("h1", {}, "Token regenerated"), secretPanel(created, "regenerated"));
}

async function duplicate(token) {
  const created = await attempt(() => api("POST", `/v1/tokens/${encodeURIComponent(token.id)}/duplicate`));
  if (created) show(h("h1", {}, "Token duplicated"), secretPanel(created, "created"));
}

function tokensPage() {
  show(h("h1", {}, "My tokens"),
    h("p", {}, "Personal access tokens and agent connections. ", h("a", { href: "#/new" }, "Create a token"), "."),
    tokenTable({
      load: (params) => api("GET", `/v1/tokens?${params}`),
      empty: "No tokens match. Create one to call the API from scripts, tools or agents.",
      orgFilter: true,
      kinds: ["personal", "agent", "api"],
    }));
}

// The create form ------------------------------------------------------------------------------

const ACTION_RANK = { read: 0, write: 1, admin: 2 };
const ROLE_CAP = { viewer: 0, member: 1, admin: 2, owner: 2 };

function newTokenPage() {
  const orgs = profile.organizations;
  const kinds = ["personal", "agent"];
  if (orgs.some((o) => o.api_tokens_enabled && ROLE_CAP[o.role] === 2)) kinds.push("api");
  const form = h("form", { "aria-labelledby": "new-title", novalidate: true });
  const kindBox = h("fieldset", {}, h("legend", {}, "Kind"),
    ...kinds.map((k, i) => h("label", {}, h("input", { type: "radio", name: "kind", value: k, checked: i === 0 }), k)));
  const orgBox = h("fieldset", { id: "orgs" });
  const scopeBox = h("fieldset", { id: "scopes" });
  const expiryBox = h("fieldset", { id: "expiry" });
  const submit = h("button", { type: "submit", class: "primary", id: "create" }, "Create token");
  form.append(
    h("label", { for: "name" }, "Name"), h("input", { id: "name", name: "name", required: true, maxlength: 100, autocomplete: "off" }),
    h("label", { for: "description" }, "Description (optional)"), h("input", { id: "description", name: "description", maxlength: 500, autocomplete: "off" }),
    kindBox, orgBox, scopeBox,
    h("label", { for: "projects" }, "Restrict to projects (optional, comma-separated ids)"),
    h("input", { id: "projects", name: "projects", autocomplete: "off" }),
    expiryBox, h("div", { class: "actions" }, submit));

  const kind = () => new FormData(form).get("kind");
  const chosenOrgs = () => new FormData(form).getAll("org").map((id) => orgs.find((o) => o.id === id)).filter(Boolean);

  function drawOrgs() {
    const single = kind() !== "personal";
    const eligible = kind() === "api" ? orgs.filter((o) => o.api_tokens_enabled && ROLE_CAP[o.role] === 2) : orgs;
    fill(orgBox, h("legend", {}, single ? "Organization" : "Organizations"),
      eligible.length ? null : h("p", {}, "You belong to no organization that allows this kind."),
      ...eligible.map((o, i) => h("label", {}, h("input", { type: single ? "radio" : "checkbox", name: "org", value: o.id, checked: i === 0, onchange: () => { drawScopes(); drawExpiry(); } }), `${o.name} (${o.role})`)));
  }

  function drawScopes() {
    const cap = Math.min(2, ...chosenOrgs().map((o) => ROLE_CAP[o.role]));
    const allowed = (scope) => ACTION_RANK[scope.split(":")[0]] <= cap;
    const presetSelect = h("select", { id: "preset", name: "preset", onchange: () => { custom.hidden = presetSelect.value !== ""; } },
      ...catalog.presets.map((p) => h("option", { value: p.id, disabled: !p.scopes.every(allowed) }, p.name)),
      h("option", { value: "" }, "Custom…"));
    const custom = h("div", { hidden: true }, scopeGrid(catalog.scopes, allowed));
    fill(scopeBox, h("legend", {}, "Scopes"), h("label", { for: "preset" }, "Preset"), presetSelect, custom,
      h("p", { class: "sub" }, "Scopes above your role in the chosen organizations are disabled."));
    const first = [...presetSelect.options].find((o) => !o.disabled);
    if (first) presetSelect.value = first.value;
    custom.hidden = presetSelect.value !== "";
  }

  function drawExpiry() {
    const chosen = chosenOrgs();
    const required = chosen.some((o) => o.require_expiry);
    const limits = chosen.map((o) => o.max_token_lifetime_days).filter((d) => d);
    const max = limits.length ? Math.min(...limits) : null;
    const presets = [7, 30, 60, 90].filter((d) => max === null || d <= max);
    const fallback = kind() === "agent" ? Math.min(90, max ?? 90) : presets.at(-1);
    const options = [...presets.map((d) => h("option", { value: String(d) }, `${d} days`)),
      h("option", { value: "custom" }, "Custom date…"),
      required ? null : h("option", { value: "never" }, "No expiry")];
    const select = h("select", { id: "expiry-preset", name: "expiry", onchange: () => { date.hidden = select.value !== "custom"; } }, ...options);
    const today = new Date();
    const latest = max === null ? null : new Date(today.getTime() + max * 864e5).toISOString().slice(0, 10);
    const date = h("input", { type: "date", id: "expiry-date", name: "expiry_date", "aria-label": "Expiry date", hidden: true,
      min: new Date(today.getTime() + 864e5).toISOString().slice(0, 10), max: latest });
    fill(expiryBox, h("legend", {}, "Expiry"), h("label", { for: "expiry-preset" }, "Expires"), select, date,
      required || max ? h("p", { class: "sub" }, [required ? "An expiry is required by your organization." : "", max ? ` At most ${max} days.` : ""].join("")) : null);
    select.value = presets.includes(fallback) ? String(fallback) : (presets.length ? String(presets.at(-1)) : "custom");
    date.hidden = select.value !== "custom";
  }

  kindBox.addEventListener("change", () => { drawOrgs(); drawScopes(); drawExpiry(); });
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const data = new FormData(form);
    const name = String(data.get("name") || "").trim();
    if (!name) return say("Give the token a name.");
    const body = { kind: kind(), name };
    const description = String(data.get("description") || "").trim();
    if (description) body.description = description;
    const orgIds = data.getAll("org");
    if (body.kind === "personal") body.organization_ids = orgIds;
    else body.organization_id = orgIds[0] || null;
    if (data.get("preset")) body.preset = data.get("preset");
    else body.scopes = data.getAll("scope");
    const projects = String(data.get("projects") || "").split(",").map((p) => p.trim()).filter(Boolean);
    if (projects.length) body.project_ids = projects;
    const choice = data.get("expiry");
    if (choice === "custom") {
      const day = data.get("expiry_date");
      if (!day) return say("Pick an expiry date.");
      body.expires_at = new Date(`${day}T23:59:59Z`).toISOString();
    } else if (choice !== "never") {
      body.expires_at = new Date(Date.now() + Number(choice) * 864e5).toISOString();
    } else {
      body.expires_at = null;
    }
    busy = true;
    submit.disabled = true;
    const created = await attempt(() => api("POST", "/v1/tokens", body));
    busy = false;
    submit.disabled = false;
    if (created) show(h("h1", {}, "Token created"), secretPanel(created, "created"));
  });

  show(h("h1", { id: "new-title" }, "Create a token"), form);
  drawOrgs(); drawScopes(); drawExpiry();
}

/** The custom scopes as a grid: one row per resource ("every resource" first), one column per
 * action; a scope above the user's role is disabled. */
function scopeGrid(scopes, allowed) {
  const actions = ["read", "write", "admin"];
  const rows = new Map();
  for (const scope of scopes) {
    const [action, resource = ""] = scope.name.split(":");
    if (!rows.has(resource)) rows.set(resource, new Map());
    rows.get(resource).set(action, scope);
  }
  return h("div", { class: "table-wrap" }, h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, h("th", {}, "Resource"), ...actions.map((a) => h("th", {}, a)))),
    h("tbody", {}, ...[...rows].map(([resource, byAction]) => h("tr", {},
      h("th", { scope: "row" }, resource || "every resource"),
      ...actions.map((action) => {
        const scope = byAction.get(action);
        return h("td", {}, scope ? h("input", { type: "checkbox", name: "scope", value: scope.name,
          disabled: !allowed(scope.name), title: scope.description,
          "aria-label": `${action} ${resource || "every resource"}` }) : null);
      }))))));
}

// A token's own page -----------------------------------------------------------------------------

function chart(daily) {
  const width = 720, height = 140, gap = 1, bar = width / daily.length;
  const top = Math.max(1, ...daily.map((d) => d.count));
  const total = daily.reduce((sum, d) => sum + d.count, 0);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Daily uses over the last ${daily.length} days: ${total} in all`);
  daily.forEach((d, i) => {
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const barHeight = Math.round((d.count / top) * (height - 10));
    rect.setAttribute("x", String(i * bar));
    rect.setAttribute("y", String(height - barHeight));
    rect.setAttribute("width", String(Math.max(1, bar - gap)));
    rect.setAttribute("height", String(barHeight));
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${d.date}: ${d.count}`;
    rect.append(title);
    svg.append(rect);
  });
  return svg;
}

async function tokenPage(id) {
  show(h("p", {}, "Loading…"));
  const token = await attempt(() => api("GET", `/v1/tokens/${encodeURIComponent(id)}`));
  if (!token) return show(h("h1", {}, "Token"), h("p", {}, "This token could not be shown."), h("a", { href: "#/" }, "Back to my tokens"));
  const usage = await attempt(() => api("GET", `/v1/tokens/${encodeURIComponent(id)}/usage`));
  const events = await attempt(() => api("GET", `/v1/audit-events?token_id=${encodeURIComponent(id)}&limit=25`));
  const refresh = () => tokenPage(id);
  show(
    h("h1", {}, token.name),
    h("dl", { class: "settings" },
      h("dt", {}, "Kind"), h("dd", {}, token.kind),
      h("dt", {}, "Description"), h("dd", {}, token.description || "—"),
      h("dt", {}, "Hint"), h("dd", {}, h("code", {}, token.hint)),
      h("dt", {}, "Organizations"), h("dd", {}, token.organization_ids.join(", ") || "—"),
      h("dt", {}, "Projects"), h("dd", {}, token.project_ids.join(", ") || "all"),
      h("dt", {}, "Scopes"), h("dd", {}, token.scopes.join(", ") || "—"),
      h("dt", {}, "Created"), h("dd", {}, when(token.created_at)),
      h("dt", {}, "Expires"), h("dd", {}, expiry(token)),
      h("dt", {}, "Status"), h("dd", {}, statusCell(token))),
    rowActions(token, refresh),
    h("h2", {}, "Usage"),
    usage ? h("div", {},
      h("p", {}, "Last used ", when(usage.last_used_at), usage.last_used_ip ? ` from ${usage.last_used_ip}` : "", `; ${usage.usage_count} uses in all.`),
      chart(usage.daily),
      usage.recent_ips.length ? h("ul", {}, ...usage.recent_ips.map((ip) => h("li", {}, `${ip.ip}: ${ip.count} uses, last `, when(ip.last_seen_at)))) : h("p", {}, "No addresses recorded yet.")) : null,
    h("h2", {}, "Audit events"),
    events && events.items.length ? h("ul", {}, ...events.items.map((e) => h("li", {}, when(e.created_at), ` ${e.type} by ${e.actor.type} ${e.actor.id || ""}`))) : h("p", {}, "No events."),
  );
}

// An organization's page (admins and owners) ---------------------------------------------------

function organizationPage(orgId) {
  const org = (profile.organizations || []).find((o) => o.id === orgId);
  const load = (kind) => (params) => {
    params.set("kind", kind);
    return api("GET", `/v1/organizations/${encodeURIComponent(orgId)}/tokens?${params}`);
  };
  show(h("h1", {}, `${org ? org.name : orgId}: tokens`),
    h("h2", {}, "API tokens"),
    tokenTable({ load: load("api"), empty: "No API tokens. Create one from “Create a token” with the kind api.", orgFilter: false, kinds: ["api"], oversight: true }),
    h("h2", {}, "Members' agent connections"),
    tokenTable({ load: load("agent"), empty: "No agent connections in this organization.", orgFilter: false, kinds: ["agent"], oversight: true }));
}

// Start ------------------------------------------------------------------------------------------

async function start() {
  if (!takeSession()) return signOut("You are not signed in.");
  const loaded = await attempt(async () => {
    [profile, catalog] = await Promise.all([api("GET", "/v1/session"), api("GET", "/v1/scopes")]);
    return true;
  });
  if (!loaded) return;
  document.getElementById("who").textContent = profile.email;
  document.getElementById("sign-out").hidden = false;
  const links = document.getElementById("org-links");
  fill(links, ...adminOrgs().map((o) => h("a", { href: `#/orgs/${encodeURIComponent(o.id)}` }, o.name)));
  document.getElementById("nav").hidden = false;
  pageFromHash();
}

window.addEventListener("hashchange", () => {
  if (/^#session=/.test(location.hash)) start();
  else if (profile) { say(""); pageFromHash(); }
});
start();
