// The dops dashboard: one stream of server-sent events (/api/stream) keeps the page current.
// "hello" carries everything; "instance", "removed", "records", "stats" and "event" change one
// thing each. Every text from the platform goes in with textContent (never parsed as HTML).
"use strict";

const $ = (id) => document.getElementById(id);

// State, and what tests read (window.dops): renderMs, applied[container] (Date.now() when its
// card last changed), seen[container][state] (Date.now() when its card first showed that
// state), ready, lastAction.
const dops = (window.dops = {
  project: "",
  readOnly: true,
  instances: new Map(),
  stats: new Map(),
  records: null,
  skew: 0,
  renderMs: null,
  applied: {},
  seen: {},
  confirming: {},
  ready: false,
  lastAction: null,
});

const MAX_EVENTS = 300;
const MAX_SAMPLES = 300;
const MAX_LOG_LINES = 1000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function now() {
  return Date.now() - dops.skew;
}

function ago(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 172800) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

function clock(ms) {
  return new Date(ms).toISOString().slice(11, 23);
}

function isAside(v) {
  return v.container.endsWith(".old");
}

function label(v) {
  return isAside(v) ? v.container : v.service + "-" + v.instance;
}

// The state as shown: dops-init's lifecycle while the container runs, else Docker's.
function shownState(v) {
  if (v.docker_state === "running") {
    const l = v.lifecycle;
    if (!l || !l.state) return "running";
    return l.maintenance ? l.state + " (maintenance)" : l.state;
  }
  if (v.docker_state === "absent") return "not running";
  return v.docker_state;
}

function stateClass(v) {
  if (v.docker_state !== "running") return "st-stop";
  const l = v.lifecycle;
  const s = (l && l.state) || "";
  if (s === "UP") return l.maintenance ? "st-warm" : "st-up";
  if (s === "RESTARTING") return "st-restart";
  if (s === "ERROR") return "st-error";
  if (s === "STOPPED") return "st-stop";
  return "st-warm";
}

function declaredService(service) {
  if (!dops.declared) {
    dops.declared = new Set();
    for (const v of dops.instances.values()) if (v.declared) dops.declared.add(v.service);
  }
  return dops.declared.has(service);
}

// The monitor blob's fields as key/values (two levels), numbers first kept for the charts.
function fields(blob) {
  const out = [];
  const walk = (prefix, v, depth) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && depth < 2) {
      for (const k of Object.keys(v)) walk(prefix ? prefix + "." + k : k, v[k], depth + 1);
    } else if (prefix) {
      out.push([prefix, v]);
    }
  };
  walk("", blob, 0);
  return out.slice(0, 12);
}

function spark(samples, key) {
  const pts = samples.filter((s) => key in s.values);
  if (pts.length < 2) return null;
  const t0 = pts[0].t;
  const t1 = pts[pts.length - 1].t || t0 + 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) {
    lo = Math.min(lo, p.values[key]);
    hi = Math.max(hi, p.values[key]);
  }
  const span = hi - lo || 1;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute(
    "points",
    pts
      .map((p) => {
        const x = t1 === t0 ? 100 : ((p.t - t0) / (t1 - t0)) * 100;
        const y = 19 - ((p.values[key] - lo) / span) * 18;
        return x.toFixed(1) + "," + y.toFixed(1);
      })
      .join(" ")
  );
  svg.appendChild(line);
  const title = document.createElementNS(ns, "title");
  title.textContent = key + ": " + lo + " … " + hi + " over " + ago(t1 - t0);
  svg.appendChild(title);
  return svg;
}

function row(dl, k, v, cls) {
  dl.appendChild(el("dt", null, k));
  const dd = el("dd", cls, v);
  dl.appendChild(dd);
  return dd;
}

function card(v) {
  const c = el("article", "card " + stateClass(v) + (isAside(v) ? " aside" : ""));
  c.dataset.container = v.container;
  c.dataset.state = shownState(v);
  const head = el("header");
  head.appendChild(el("span", "name", label(v)));
  head.appendChild(el("span", "state", shownState(v)));
  c.appendChild(head);

  const l = v.lifecycle;
  const running = v.docker_state === "running";
  const dl = el("dl");
  if (v.health) row(dl, "health", v.health, "health-" + v.health);
  if (v.created) {
    const up = row(dl, "uptime", "", "tick");
    up.dataset.t0 = String(v.created * 1000);
  }
  if (running && l && l.since) {
    const t = Date.parse(l.since);
    if (!isNaN(t)) {
      const dd = row(dl, "in state", "", "tick");
      dd.dataset.t0 = String(t);
    }
  }
  if (l) row(dl, "restarts", l.restarts);
  const names = l && l.dns ? (l.dns.registered ? l.dns.names.join(" ") || "registered" : "not registered") : null;
  if (names !== null) row(dl, "dns", names);
  if (v.ports && v.ports.length) row(dl, "ports", v.ports.join(" "));
  if (v.ip) row(dl, "address", v.ip);
  if (isAside(v)) row(dl, "roll-out", "set aside while its replacement starts");
  c.appendChild(dl);

  if (l && l.last_stats && typeof l.last_stats === "object") {
    const m = el("div", "monitor");
    const samples = dops.stats.get(v.container) || [];
    for (const [k, val] of fields(l.last_stats)) {
      m.appendChild(el("span", "k", k));
      m.appendChild(el("span", "v", typeof val === "object" ? JSON.stringify(val) : val));
      const s = typeof val === "number" ? spark(samples, k) : null;
      m.appendChild(s || el("span"));
    }
    c.appendChild(m);
  }
  const err = (l && l.error) || v.state_error;
  if (err) c.appendChild(el("div", "error", err));

  const foot = el("footer");
  if (v.created) foot.appendChild(button("logs", () => openLogs(v.container)));
  if (!dops.readOnly && !isAside(v)) {
    if (v.docker_state === "absent" && v.declared) {
      foot.appendChild(button("run", (b) => act("run", v, b)));
    } else if (v.created && declaredService(v.service)) {
      foot.appendChild(button("rerun", (b) => act("rerun", v, b)));
      const clean = button("clean", (b) => act("clean", v, b));
      // A card redrawn (a new monitor blob) keeps a pending confirmation.
      if ((dops.confirming[v.container] || 0) > Date.now()) {
        clean.classList.add("confirm");
        clean.textContent = "confirm clean";
      }
      foot.appendChild(clean);
    }
  }
  c.appendChild(foot);
  tickOne(c);
  return c;
}

function button(text, onclick) {
  const b = el("button", null, text);
  b.type = "button";
  b.dataset.act = text;
  b.addEventListener("click", () => onclick(b));
  return b;
}

function newGroup(service) {
  const g = el("section", "service");
  g.dataset.service = service;
  const h = el("h2");
  h.appendChild(el("span", null, service));
  h.appendChild(el("span", "count"));
  g.appendChild(h);
  g.appendChild(el("div", "cards"));
  return g;
}

function group(service) {
  let g = document.querySelector('.service[data-service="' + CSS.escape(service) + '"]');
  if (g) return g;
  g = newGroup(service);
  const all = $("services");
  const after = [...all.children].find((x) => x.dataset.service > service);
  all.insertBefore(g, after || null);
  return g;
}

function counts() {
  let total = 0;
  let up = 0;
  const per = new Map();
  for (const v of dops.instances.values()) {
    const p = per.get(v.service) || [0, 0];
    p[0]++;
    total++;
    if (stateClass(v) === "st-up") {
      p[1]++;
      up++;
    }
    per.set(v.service, p);
  }
  for (const g of document.querySelectorAll(".service")) {
    const p = per.get(g.dataset.service) || [0, 0];
    g.querySelector(".count").textContent = p[1] + " of " + p[0] + " UP";
  }
  $("summary").textContent = total + " instances, " + up + " UP";
}

function place(v) {
  const cards = group(v.service).querySelector(".cards");
  const fresh = card(v);
  const old = cards.querySelector('.card[data-container="' + CSS.escape(v.container) + '"]');
  if (old) {
    old.replaceWith(fresh);
  } else {
    const after = [...cards.children].find((x) => x.dataset.container > v.container);
    cards.insertBefore(fresh, after || null);
  }
}

function upsert(v) {
  const before = dops.instances.get(v.container);
  dops.instances.set(v.container, v);
  dops.declared = null;
  place(v);
  // A service that becomes declared or not changes its cards' buttons.
  if (!before || before.declared !== v.declared) {
    for (const o of dops.instances.values()) if (o.service === v.service && o !== v) place(o);
  }
  markSeen(v);
  counts();
}

function markSeen(v) {
  const t = Date.now();
  dops.applied[v.container] = t;
  const seen = (dops.seen[v.container] = dops.seen[v.container] || {});
  if (!(shownState(v) in seen)) seen[shownState(v)] = t;
}

function remove(container) {
  dops.instances.delete(container);
  dops.declared = null;
  dops.stats.delete(container);
  const c = document.querySelector('.card[data-container="' + CSS.escape(container) + '"]');
  if (c) {
    const g = c.closest(".service");
    c.remove();
    if (g && !g.querySelector(".card")) g.remove();
  }
  dops.applied[container] = Date.now();
  delete dops.seen[container];
  counts();
}

function eventItem(e) {
  const li = el("li", "src-" + e.source + " k-" + e.kind.replace(/\./g, "-"));
  li.appendChild(el("time", null, clock(e.epoch_ms)));
  li.appendChild(el("span", "who", e.instance || "-"));
  li.appendChild(el("span", "kind", e.kind));
  li.appendChild(document.createTextNode(" " + e.details));
  return li;
}

function addEvent(e) {
  const list = $("events");
  list.insertBefore(eventItem(e), list.firstChild);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

function renderRecords() {
  const r = dops.records;
  const body = $("dns").querySelector("tbody");
  body.textContent = "";
  const list = r ? r.records : [];
  $("zone").textContent = r ? r.zone : "";
  $("dns-none").hidden = list.length > 0;
  $("dns").hidden = list.length === 0;
  for (const x of list) {
    const tr = el("tr", x.answered ? null : "held");
    tr.appendChild(el("td", null, x.name));
    tr.appendChild(el("td", "type", x.type));
    tr.appendChild(el("td", null, x.value));
    tr.appendChild(el("td", null, x.instance));
    const lease = el("td", "lease");
    lease.dataset.left = String(x.lease_left_ms);
    tr.appendChild(lease);
    body.appendChild(tr);
  }
  tickLeases();
}

function tickLeases() {
  const r = dops.records;
  if (!r) return;
  const age = now() - r.written_at_ms;
  for (const td of document.querySelectorAll("td.lease")) {
    const left = Math.max(0, Number(td.dataset.left) - age);
    td.textContent = (left / 1000).toFixed(1) + "s";
  }
}

function tickOne(root) {
  for (const dd of root.querySelectorAll(".tick")) {
    dd.textContent = ago(now() - Number(dd.dataset.t0));
  }
}

function hello(h) {
  const t0 = performance.now();
  dops.project = h.project;
  dops.readOnly = h.read_only;
  dops.skew = Date.now() - h.now_ms;
  dops.instances = new Map(h.instances.map((v) => [v.container, v]));
  dops.declared = null;
  dops.stats = new Map(Object.entries(h.stats || {}));
  dops.records = h.records;
  $("project").textContent = h.project;
  document.title = "dops " + h.project;
  $("readonly").hidden = !h.read_only;
  // Everything built off the page, then attached at once.
  const services = $("services");
  services.textContent = "";
  const groups = new Map();
  for (const v of h.instances) {
    let g = groups.get(v.service);
    if (!g) {
      g = newGroup(v.service);
      groups.set(v.service, g);
    }
    g.lastChild.appendChild(card(v));
    markSeen(v);
  }
  const all = document.createDocumentFragment();
  for (const s of [...groups.keys()].sort()) all.appendChild(groups.get(s));
  services.appendChild(all);
  counts();
  const list = $("events");
  list.textContent = "";
  for (const e of h.events.slice(-MAX_EVENTS)) list.insertBefore(eventItem(e), list.firstChild);
  renderRecords();
  void document.body.offsetHeight; // layout included in the figure
  dops.renderMs = performance.now() - t0;
  dops.ready = true;
}

function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 5000);
}

async function act(verb, v, b) {
  if (verb === "clean" && !((dops.confirming[v.container] || 0) > Date.now())) {
    dops.confirming[v.container] = Date.now() + 4000;
    b.classList.add("confirm");
    b.textContent = "confirm clean";
    setTimeout(() => {
      const v2 = dops.instances.get(v.container);
      if (v2 && !((dops.confirming[v.container] || 0) > Date.now())) place(v2);
    }, 4100);
    return;
  }
  delete dops.confirming[v.container];
  b.disabled = true;
  let status = 0;
  let text = "";
  try {
    const r = await fetch("/api/action", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ verb: verb, service: v.service, instance: v.instance }),
    });
    status = r.status;
    text = (await r.text()).trim();
  } catch (e) {
    text = String(e);
  }
  dops.lastAction = { verb: verb, container: v.container, status: status, text: text };
  const ok = status === 202;
  toast(ok ? verb + " " + label(v) + ": started (see the events)" : text, !ok);
  b.disabled = false;
}

let logSource = null;

function openLogs(container) {
  if (logSource) logSource.close();
  const pre = $("logs-body");
  pre.textContent = "";
  $("logs-title").textContent = "logs of " + container;
  $("logs").hidden = false;
  logSource = new EventSource("/api/logs/" + encodeURIComponent(container));
  logSource.addEventListener("line", (m) => {
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(m.data + "\n"));
    while (pre.childNodes.length > MAX_LOG_LINES) pre.removeChild(pre.firstChild);
    if (stick) pre.scrollTop = pre.scrollHeight;
  });
  logSource.onerror = () => {
    pre.appendChild(document.createTextNode("-- the log stream ended --\n"));
    logSource.close();
  };
}

$("logs-close").addEventListener("click", () => {
  if (logSource) logSource.close();
  logSource = null;
  $("logs").hidden = true;
});

function setConn(live, text) {
  const c = $("conn");
  c.textContent = text || (live ? "live" : "reconnecting…");
  c.className = "conn " + (live ? "live" : "down");
}

function connect() {
  const es = new EventSource("/api/stream");
  const on = (name, f) => es.addEventListener(name, (m) => f(JSON.parse(m.data)));
  on("hello", (h) => {
    setConn(true);
    hello(h);
  });
  on("instance", (u) => upsert(u.instance));
  on("removed", (u) => remove(u.container));
  on("records", (u) => {
    dops.records = u.records;
    renderRecords();
  });
  on("stats", (u) => {
    const s = dops.stats.get(u.container) || [];
    s.push(u.sample);
    while (s.length > MAX_SAMPLES) s.shift();
    dops.stats.set(u.container, s);
  });
  on("event", (u) => addEvent(u.event));
  es.onerror = () => {
    setConn(false, es.readyState === EventSource.CLOSED ? "signed out: open the address dops ui printed" : null);
  };
}

setInterval(() => tickOne(document), 1000);
setInterval(tickLeases, 250);
connect();
