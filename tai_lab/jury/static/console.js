// The jury console: small, no framework. Every POST carries the CSRF token.
"use strict";
const csrf = document.body.dataset.csrf;
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function toast(msg, bad) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, bad ? 8000 : 3000);
}

async function post(url, data) {
  const r = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(data || {})});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { toast((body.error || r.status) + (body.hint ? " — " + body.hint : ""), true); throw new Error(body.error); }
  return body;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function mmss(s) {
  s = Math.max(0, Math.round(s));
  return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

// ------------------------------------------------------------------ every page
const actorForm = $("#actor-form");
if (actorForm) {
  $("#actor").addEventListener("change", (e) => post("/api/actor", {name: e.target.value}).then(() => toast("✓")));
  actorForm.addEventListener("submit", (e) => e.preventDefault());
}
$$("button.verify").forEach((b) => b.addEventListener("click", async () => {
  b.disabled = true;
  const job = await post(`/api/pod/${b.dataset.pod}/verify`).catch(() => null);
  if (!job) { b.disabled = false; return; }
  const wait = async () => {
    const j = await (await fetch(`/api/jobs/${job.id}`)).json();
    if (j.state === "running") { setTimeout(wait, 1000); return; }
    location.reload();
  };
  wait();
}));

// ------------------------------------------------------------------ overview: kept current
const overview = $("#overview");
if (overview) {
  setInterval(async () => {
    const r = await fetch("/api/overview", {credentials: "same-origin"}).catch(() => null);
    if (!r || !r.ok) return;
    for (const p of (await r.json()).pods) {
      const tr = $(`tr[data-pod="${p.pod}"]`, overview);
      if (!tr) continue;
      $(".candidate", tr).textContent = p.candidate || "—";
      $(".phase-cell", tr).replaceChildren(el("span", {class: `phase phase-${p.phase}`}, p.phase));
      const tags = p.active.map((a) => el("span", {class: "tag"}, `${a.id} (${a.variant})`));
      $(".active-list", tr).replaceChildren(...(tags.length ? tags : [overview.dataset.none]));
    }
  }, 3000);
}

// ------------------------------------------------------------------ session page
const root = $("#session");
if (root) {
  const pod = root.dataset.pod;
  const minutes = Number(root.dataset.minutes);
  const words = JSON.parse($("#words").textContent);
  const catalogue = Object.fromEntries(JSON.parse($("#catalogue-data").textContent).map((i) => [i.id, i]));
  const api = `/api/pod/${pod}`;
  let state = null;
  let fetchedAt = 0;

  $("#show-all").addEventListener("change", (e) => root.classList.toggle("show-all", e.target.checked));
  $("#candidate-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("#candidate-input").value;
    await post(`${api}/candidate`, {name});
    $("#candidate-input").value = "";
    location.reload();
  });
  $("#timer-start").addEventListener("click", () => post(`${api}/timer`, {action: "start"}).then(refresh));
  $("#timer-pause").addEventListener("click", () => post(`${api}/timer`, {action: "pause"}).then(refresh));
  $$("button.inject").forEach((b) => b.addEventListener("click", async () => {
    const row = b.closest("tr");
    const variant = $("select.variant", row).value;
    b.disabled = true;
    try { await post(`${api}/inject`, {id: b.dataset.id, variant}); } catch (e) { b.disabled = false; return; }
    refresh();
  }));

  function statusBadge(a) {
    // The verdict kind's words, and its reason (bypassed, lost at reboot) in the page's language.
    const reason = a.reason ? " — " + (a.reason[document.body.dataset.lang] || a.reason.fr) : "";
    return el("span", {class: `status st-${a.status}`, "data-status": a.status}, (words[`status_${a.status}`] || a.status) + reason);
  }

  function card(iid) {
    let c = document.getElementById(`card-${iid}`);
    if (c) return c;
    const item = catalogue[iid] || {title: iid, symptom: "", criteria: [], jury: {diagnostic: [], fixes: []}};
    const crit = el("div", {class: "criteria"}, el("h4", {}, words.criteria));
    for (const comp of item.criteria) {
      const box = el("fieldset", {}, el("legend", {}, `${comp.id} — ${comp.title}`));
      comp.criteria.forEach((text, index) => {
        const cb = el("input", {type: "checkbox", class: "criterion", "data-competency": comp.id, "data-index": index,
          onchange: (e) => post(`${api}/criterion`, {id: iid, competency: comp.id, index, checked: e.target.checked})
            .catch(() => { e.target.checked = !e.target.checked; })});
        box.append(el("label", {}, cb, " " + text));
      });
      crit.append(box);
    }
    const note = el("textarea", {class: "note", rows: 3, "aria-label": words.notes});
    const notes = el("ul", {class: "notes"});
    const save = el("button", {class: "save-note", onclick: async () => {
      if (!note.value.trim()) return;
      await post(`${api}/note`, {id: iid, text: note.value});
      note.value = "";
      refresh();
    }}, words.save_note);
    c = el("article", {class: "attempt", id: `card-${iid}`, "data-id": iid},
      el("header", {}, el("h3", {}, item.title, " ", el("code", {}, iid)), el("span", {class: "badge"})),
      el("p", {class: "symptom"}, `${words.symptom} : ${item.symptom}`),
      el("p", {class: "meta"}),
      el("ul", {class: "evidence"}),
      el("div", {class: "actions"}, el("button", {class: "restore", onclick: async (e) => {
        e.target.disabled = true;
        await post(`${api}/restore`, {id: iid}).catch(() => {});
        refresh();
      }}, words.restore), el("button", {class: "reboot-check", onclick: async (e) => {
        e.target.disabled = true;
        await post(`${api}/reboot-check`, {id: iid}).catch(() => {});
        e.target.disabled = false;
        refresh();
      }}, words.reboot_check)),
      el("details", {class: "hints"}, el("summary", {}, `${words.diagnostic} / ${words.fixes}`),
        el("ul", {}, ...item.jury.diagnostic.map((d) => el("li", {}, d))),
        el("ul", {class: "fixes"}, ...item.jury.fixes.map((d) => el("li", {}, d)))),
      el("div", {class: "notes-box"}, el("h4", {}, words.notes), notes, note, save),
      crit);
    $("#attempts").prepend(c);
    return c;
  }

  function render() {
    const s = state.session;
    $("#candidate-name").textContent = s.candidate || "—";
    $("#nothing").style.display = state.attempts.length ? "none" : "";
    $("#jobs").textContent = state.jobs.map((j) => `${words.jobs} : ${j.kind} ${j.label}…`).join(" · ");
    const latest = {};
    for (const a of state.attempts) latest[a.id] = a;
    for (const [iid, a] of Object.entries(latest)) {
      const c = card(iid);
      const badge = $(".badge", c);
      badge.replaceChildren(statusBadge(a));
      c.dataset.status = a.status;
      const meta = [`${words.variant} : ${a.variant || "—"}`];
      if (a.seconds_since_inject !== null && a.open) meta.push(`${words.since_inject} : ${mmss(a.seconds_since_inject)}`);
      if (a.seconds_to_fix !== null) meta.push(`${words.time_to_fix} ${mmss(a.seconds_to_fix)}`);
      if (a.failed) meta.push(a.failed);
      $(".meta", c).textContent = meta.join(" · ");
      $(".evidence", c).replaceChildren(...(a.evidence || []).map((r) =>
        el("li", {class: r.passed ? "ok" : "bad"}, (r.passed ? "✓ " : "✗ ") + r.title + " — " + r.evidence)));
      $(".restore", c).style.display = (a.active || a.status === "interrupted") ? "" : "none";
      $(".restore", c).disabled = a.status === "injecting";
      $(".reboot-check", c).style.display = a.active && a.status !== "rebooting" ? "" : "none";
      const notes = (s.notes[iid] || []).map((n) => el("li", {}, el("time", {}, n.at.slice(11)), ` ${n.actor} : ${n.text}`));
      $(".notes", c).replaceChildren(...notes);
      const ticked = s.criteria[iid] || {};
      $$("input.criterion", c).forEach((cb) => {
        if (cb === document.activeElement) return;
        cb.checked = (ticked[cb.dataset.competency] || []).includes(Number(cb.dataset.index));
      });
    }
    const used = new Set(s.used);
    $$("#catalogue tr.iv").forEach((tr) => {
      tr.classList.toggle("used", used.has(tr.dataset.id));
      const busy = state.jobs.some((j) => j.kind === "inject" && j.label === tr.dataset.id)
        || state.active.some((a) => a.id === tr.dataset.id);
      $("button.inject", tr).disabled = busy;
    });
    for (const j of state.recent_jobs) {
      if (j.state === "failed" && !render.shown.has(j.id)) {
        render.shown.add(j.id);
        if (Date.now() / 1000 - j.ended < 30) toast(`${j.kind} ${j.label} : ${j.error}${j.hint ? " — " + j.hint : ""}`, true);
      }
    }
    tick();
  }
  render.shown = new Set();

  function tick() {
    if (!state) return;
    const t = state.session.timer;
    const elapsed = t.elapsed + (t.running ? (Date.now() - fetchedAt) / 1000 : 0);
    const left = minutes * 60 - elapsed;
    const timer = $("#timer");
    timer.textContent = mmss(elapsed);
    timer.className = left <= 0 ? "over" : (left < 300 ? "soon" : (t.running ? "running" : ""));
    $("#timer-start").disabled = t.running;
    $("#timer-pause").disabled = !t.running;
  }

  async function refresh() {
    try {
      const r = await fetch(`${api}/state`, {credentials: "same-origin"});
      if (r.status === 401) { location.reload(); return; }
      state = await r.json();
      fetchedAt = Date.now();
      render();
    } catch (e) { /* the server restarts: try again at the next beat */ }
  }
  refresh();
  setInterval(refresh, 1000);
  setInterval(tick, 500);
}
