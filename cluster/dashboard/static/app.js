// trident dashboard: plain JavaScript, no build step. Data comes from the JSON
// API beside this file; every value is put in the page as text, never as HTML.
"use strict";
(function () {
  const STATES = ["queued", "scheduled", "deferred", "started", "finished", "failed", "cancelled"];
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const view = { state: "", queue: "", id: "", cursors: [""], page: 0, next: "", job: "" };
  let version = "", overview = null, loading = 0, firstRender = true;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function alertMsg(msg) { const a = $("alert"); a.textContent = msg || ""; a.hidden = !msg; }
  async function api(path, opts) {
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || (r.status + " " + r.statusText));
    return body;
  }
  function fmtTime(s) {
    if (!s || s.startsWith("0001-")) return "";
    const d = new Date(s), now = new Date();
    const t = d.toLocaleTimeString([], { hour12: false });
    return d.toDateString() === now.toDateString() ? t : d.toLocaleDateString() + " " + t;
  }
  function ago(s) {
    if (!s || s.startsWith("0001-")) return "";
    const sec = Math.max(0, Math.round((Date.now() - new Date(s)) / 1000));
    return sec < 60 ? sec + "s ago" : sec < 3600 ? Math.round(sec / 60) + "m ago" : Math.round(sec / 3600) + "h ago";
  }
  function stateBadge(s) { return el("span", { class: "state " + s }, s); }
  function jobLink(id) { return el("a", { href: "#job=" + encodeURIComponent(id), class: "id" }, id); }
  function what(j) { return j.function || (j.command || []).join(" "); }
  function pretty(text) {
    if (!text) return "";
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }
  function emptyRow(cols, msg) { return el("tr", { class: "empty" }, el("td", { colspan: cols }, msg)); }

  // Overview: queues, workers, counts per state.
  function renderOverview(o) {
    overview = o;
    const qb = $("queues").tBodies[0], rows = [];
    const totals = {};
    for (const q of o.queues || []) {
      const tds = [el("td", {}, q.name)];
      for (const s of STATES) {
        const n = (q.depth || {})[s] || 0;
        totals[s] = (totals[s] || 0) + n;
        tds.push(el("td", { class: "num", "data-state": s }, n));
      }
      tds.push(el("td", { class: "num" }, (q.enqueued_per_sec || 0).toFixed(1)), el("td", { class: "num" }, (q.finished_per_sec || 0).toFixed(1)));
      rows.push(el("tr", { "data-queue": q.name }, ...tds));
    }
    qb.replaceChildren(...(rows.length ? rows : [emptyRow(10, "no queue yet")]));
    const wb = $("workers").tBodies[0], wrows = [];
    for (const w of o.workers || []) {
      const cur = el("td", {});
      (w.current || []).forEach((id, i) => { if (i) cur.append(" "); cur.append(jobLink(id)); });
      const pct = w.slots ? Math.round(60 * w.busy / w.slots) : 0;
      wrows.push(el("tr", { "data-worker": w.id }, el("td", { class: "id" }, w.id), el("td", {}, w.host || ""),
        el("td", {}, (w.queues || []).join(", ")),
        el("td", {}, bar(pct), w.busy + " / " + w.slots),
        cur, el("td", { title: fmtTime(w.last_seen) }, ago(w.last_seen))));
    }
    wb.replaceChildren(...(wrows.length ? wrows : [emptyRow(6, "no live worker")]));
    // State tabs with counts, and the queue choice.
    const all = STATES.reduce((a, s) => a + (totals[s] || 0), 0);
    const tabs = [["", "all", all]].concat(STATES.map((s) => [s, s, totals[s] || 0]));
    $("states").replaceChildren(...tabs.map(([s, label, n]) => el("button", {
      type: "button", "data-state": s, class: view.state === s ? "on" : "",
      onclick: () => { view.state = s; resetPage(); renderOverview(overview); loadJobs(); },
    }, label, el("span", { class: "n" }, n))));
    const sel = $("queue"), have = new Set([...sel.options].map((x) => x.value));
    for (const q of o.queues || []) if (!have.has(q.name)) sel.append(el("option", { value: q.name }, q.name));
  }

  function bar(px) { const b = el("span", { class: "bar" }); b.style.width = px + "px"; return b; }

  function resetPage() { view.cursors = [""]; view.page = 0; }

  async function loadJobs() {
    const my = ++loading;
    const p = new URLSearchParams();
    if (view.state) p.set("state", view.state);
    if (view.queue) p.set("queue", view.queue);
    if (view.id) p.set("id", view.id);
    if (view.cursors[view.page]) p.set("cursor", view.cursors[view.page]);
    let page;
    try { page = await api("api/jobs?" + p); } catch (e) { alertMsg("jobs: " + e.message); return; }
    if (my !== loading) return; // a newer request is on its way
    alertMsg("");
    renderJobs(page);
  }

  function renderJobs(page) {
    const rows = page.jobs.map((j) => el("tr", {
      "data-id": j.id, "data-state": j.state, class: j.id === view.job ? "sel" : "",
      onclick: (ev) => { if (ev.target.tagName !== "A") location.hash = "job=" + encodeURIComponent(j.id); },
    }, el("td", {}, jobLink(j.id)), el("td", {}, j.queue), el("td", {}, what(j)), el("td", {}, stateBadge(j.state)),
      el("td", { class: "id" }, j.worker || ""), el("td", { class: "num" }, j.attempts),
      el("td", {}, fmtTime(j.enqueued_at)), el("td", {}, fmtTime(j.ended_at))));
    $("jobs").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(8, "no job here")]));
    view.next = page.next || "";
    $("total").textContent = page.total >= 0 ? "(" + page.total + ")" : "";
    $("pageinfo").textContent = "page " + (view.page + 1);
    $("newer").disabled = view.page === 0;
    $("older").disabled = !view.next;
    if (firstRender) {
      firstRender = false;
      document.body.setAttribute("data-first-render-ms", String(Math.round(performance.now())));
    }
  }

  async function loadJob() {
    const id = view.job;
    if (!id) { $("detail").hidden = true; return; }
    let j;
    try { j = await api("api/jobs/" + encodeURIComponent(id)); } catch (e) { alertMsg("job " + id + ": " + e.message); return; }
    if (id !== view.job) return;
    alertMsg("");
    $("detail").hidden = false;
    $("detail").setAttribute("data-id", j.id);
    $("detail").setAttribute("data-state", j.state);
    $("d-id").textContent = j.id;
    $("d-state").replaceWith(Object.assign(stateBadge(j.state), { id: "d-state" }));
    const f = [["queue", j.queue], [j.function ? "function" : "command", what(j)], ["worker", j.worker],
      ["attempts", j.attempts], ["enqueued", fmtTime(j.enqueued_at)], ["scheduled for", fmtTime(j.scheduled_at)],
      ["started", fmtTime(j.started_at)], ["ended", fmtTime(j.ended_at)]];
    const dl = [];
    for (const [k, v] of f) if (v !== "" && v != null) dl.push(el("dt", {}, k), el("dd", {}, v));
    if ((j.depends_on || []).length) {
      const dd = el("dd", {});
      j.depends_on.forEach((d, i) => { if (i) dd.append(", "); dd.append(jobLink(d)); });
      dl.push(el("dt", {}, "depends on"), dd);
    }
    $("d-fields").replaceChildren(...dl);
    $("d-args").textContent = pretty(j.args) || "(none)";
    $("d-result-box").hidden = !j.result;
    $("d-result").textContent = pretty(j.result);
    $("d-error-box").hidden = !j.error;
    $("d-error").textContent = j.error || "";
    $("d-stack").textContent = j.stack || "";
    $("d-stack").hidden = !j.stack;
    $("d-timeline").replaceChildren(...(j.timeline || []).map((e) =>
      el("li", {}, fmtTime(e.at) + " ", stateBadge(e.state), e.note ? " " + e.note : "")));
    const ended = j.state === "finished" || j.state === "failed" || j.state === "cancelled";
    $("cancel").disabled = ended;
    $("requeue").disabled = !(j.state === "failed" || j.state === "cancelled");
  }

  async function act(what) {
    const id = view.job;
    if (!id) return;
    if (what === "cancel" && !confirm("Cancel job " + id + "?")) return;
    try {
      await api("api/jobs/" + encodeURIComponent(id) + "/" + what, { method: "POST", headers: { "X-Trident-Csrf": csrf } });
    } catch (e) { alertMsg(what + " " + id + ": " + e.message); return; }
    await Promise.all([loadJob(), loadJobs()]);
  }

  async function fromHash() {
    const m = /^#job=(.+)$/.exec(location.hash);
    view.job = m ? decodeURIComponent(m[1]) : "";
    for (const tr of $("jobs").tBodies[0].rows) tr.classList.toggle("sel", tr.dataset.id === view.job);
    await loadJob();
    if (view.job && !$("detail").hidden) $("detail").scrollIntoView({ block: "nearest" });
  }

  function connect() {
    const es = new EventSource("api/events");
    es.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn on"; };
    es.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn off"; };
    es.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (ev.error) { alertMsg(ev.error); return; }
      renderOverview(ev.overview);
      if (ev.version !== version) {
        version = ev.version;
        loadJobs();
        if (view.job) loadJob();
      }
    };
  }

  let searchTimer = 0;
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { view.id = $("search").value.trim(); resetPage(); loadJobs(); }, 200);
  });
  $("search").addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    // Open the only job found, or else the ID as typed.
    const rows = $("jobs").tBodies[0].querySelectorAll("tr[data-id]");
    const id = rows.length === 1 ? rows[0].dataset.id : $("search").value.trim();
    if (id) location.hash = "job=" + encodeURIComponent(id);
  });
  $("queue").addEventListener("change", () => { view.queue = $("queue").value; resetPage(); loadJobs(); });
  $("older").addEventListener("click", () => {
    if (!view.next) return;
    view.cursors[view.page + 1] = view.next; view.page++; loadJobs();
  });
  $("newer").addEventListener("click", () => { if (view.page > 0) { view.page--; loadJobs(); } });
  $("cancel").addEventListener("click", () => act("cancel"));
  $("requeue").addEventListener("click", () => act("requeue"));
  $("close").addEventListener("click", () => { history.replaceState(null, "", location.pathname + location.search); fromHash(); });
  window.addEventListener("hashchange", fromHash);
  setInterval(() => { if (overview) renderOverview(overview); }, 5000); // "seen 3s ago" moves on
  // The first render's data comes inlined in the page (no round trip);
  // without it, from the API.
  const bootEl = $("boot");
  let booted = null;
  if (bootEl) { try { booted = JSON.parse(bootEl.textContent); } catch (e) { booted = null; } }
  if (booted && booted.overview && booted.jobs) {
    renderOverview(booted.overview);
    renderJobs(booted.jobs);
    document.body.setAttribute("data-booted", "1");
  } else {
    loadJobs();
  }
  fromHash();
  connect();
})();
