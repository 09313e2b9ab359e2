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

async function send(url, data) {
  const r = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(data || {})});
  return {r, body: await r.json().catch(() => ({}))};
}

async function post(url, data) {
  const {r, body} = await send(url, data);
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

// One rounding everywhere (the server's mmss does the same): whole seconds.
function mmss(s) {
  s = Math.max(0, Math.round(s));
  return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

async function waitJob(id) {
  for (;;) {
    const j = await (await fetch(`/api/jobs/${id}`, {credentials: "same-origin"})).json();
    if (j.state !== "running") return j;
    await new Promise((ok) => setTimeout(ok, 1000));
  }
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
  await waitJob(job.id);
  location.reload();
}));

// ------------------------------------------------------------------ overview: kept current
const overview = $("#overview");
if (overview) {
  const none = overview.dataset.none;
  const minutes = Number(overview.dataset.minutes);
  const words = JSON.parse($("#overview-words").textContent);
  setInterval(async () => {
    const r = await fetch("/api/overview", {credentials: "same-origin"}).catch(() => null);
    if (!r || !r.ok) return;
    for (const p of (await r.json()).pods) {
      const tr = $(`tr[data-pod="${p.pod}"]`, overview);
      if (!tr) continue;
      tr.classList.toggle("fault", p.fault);
      $(".candidate", tr).textContent = p.candidate || "—";
      $(".phase-cell", tr).replaceChildren(el("span", {class: `phase phase-${p.phase}`}, p.phase_label));
      const t = p.timer;
      const cell = $(".timer-cell", tr);
      cell.replaceChildren(el("strong", {}, mmss(t.elapsed)), ` / ${minutes}:00`);
      cell.className = "timer-cell " + (t.left <= 0 ? "over" : (t.left <= 300 ? "soon" : (t.running ? "running" : "")));
      const tags = p.active.map((a) => el("span", {class: `tag fault-tag ${a.fixed ? "ok" : "bad"}`},
        `${a.title} — ${a.fixed ? words.fault_fixed : words.fault_active}`));
      $(".active-list", tr).replaceChildren(...(tags.length ? tags : [none]));
    }
  }, 2000);
}

// ------------------------------------------------------------------ the session bar (every page of a pod)
const bar = $("#session-bar");
let barState = null;
let barFetchedAt = 0;
const barWords = bar ? JSON.parse($("#bar-words").textContent) : {};

function alarm(kind, text) {
  const box = $("#alarm");
  const key = `tai-alarm-${bar.dataset.pod}-${kind}-${barState.session.started || 0}`;
  if (sessionStorage.getItem(key)) return;   // once per candidate and threshold, on any page
  $("#alarm-text").textContent = text;
  box.className = `alarm alarm-${kind}`;
  box.hidden = false;
  $("#alarm-close").onclick = () => { sessionStorage.setItem(key, "1"); box.hidden = true; };
}

function tickBar() {
  if (!bar || !barState) return;
  const minutes = Number(bar.dataset.minutes);
  const t = barState.session.timer;
  const started = t.running || t.elapsed > 0;
  const elapsed = t.elapsed + (t.running ? (Date.now() - barFetchedAt) / 1000 : 0);
  const left = minutes * 60 - elapsed;
  $("#timer").textContent = mmss(elapsed);
  const box = $("#timer-box");
  box.className = "sb-timer " + (left <= 0 ? "over" : (left <= 300 ? "soon" : (t.running ? "running" : "")));
  bar.classList.toggle("over", left <= 0);
  bar.classList.toggle("soon", left > 0 && left <= 300);
  $("#timer-left").textContent = !started ? `(${barWords.timer_auto})`
    : (left <= 0 ? `${barWords.time_up} (+${mmss(-left)})` : `${barWords.time_left} ${mmss(left)}`);
  $("#timer-start").disabled = t.running;
  $("#timer-pause").disabled = !t.running;
  if (started && left <= 0) alarm("over", barWords.time_up);
  else if (started && left <= 300) alarm("soon", barWords.five_left);
}

function renderBar() {
  const s = barState.session;
  $("#candidate-name").textContent = s.candidate || "—";
  $("#bar-phase").textContent = barState.phase_label || "—";
  const chips = barState.attempts.filter((a) => a.active).map((a) =>
    el("a", {class: `fault-chip st-${a.status}`, href: `/pod/${bar.dataset.pod}#card-${a.id}`},
      `${a.title} : ${a.status_label}`));
  $("#faults").replaceChildren(...chips);
  tickBar();
}

const barHooks = [];

async function refreshBar() {
  try {
    const r = await fetch(`/api/pod/${bar.dataset.pod}/state`, {credentials: "same-origin"});
    if (r.status === 401) { location.reload(); return; }
    barState = await r.json();
    barFetchedAt = Date.now();
    renderBar();
    for (const h of barHooks) h(barState);
  } catch (e) { /* the server restarts: try again at the next beat */ }
}

if (bar) {
  const api = `/api/pod/${bar.dataset.pod}`;
  $("#timer-start").addEventListener("click", () => post(`${api}/timer`, {action: "start"}).then(refreshBar));
  $("#timer-pause").addEventListener("click", () => post(`${api}/timer`, {action: "pause"}).then(refreshBar));
  refreshBar();
  setInterval(refreshBar, 1000);
  setInterval(tickBar, 500);
}

// ------------------------------------------------------------------ session page
const root = $("#session");
if (root) {
  const pod = root.dataset.pod;
  const words = JSON.parse($("#words").textContent);
  const catalogue = Object.fromEntries(JSON.parse($("#catalogue-data").textContent).map((i) => [i.id, i]));
  const api = `/api/pod/${pod}`;
  let state = null;
  let selected = null;

  $("#candidate-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("#candidate-input").value;
    await post(`${api}/candidate`, {name});
    $("#candidate-input").value = "";
    location.reload();
  });

  // ---- reset: asks, in words, what will be recorded
  $("#reset").addEventListener("click", async () => {
    const q = await (await fetch(`${api}/reset`, {credentials: "same-origin"})).json().catch(() => ({}));
    if (!window.confirm(q.question || words.reset_simple)) return;
    $("#reset").disabled = true;
    const {r, body} = await send(`${api}/reset`, {confirm: true});
    if (!r.ok) { toast(body.error || r.status, true); $("#reset").disabled = false; return; }
    const j = await waitJob(body.id);
    $("#reset").disabled = false;
    if (j.state === "done") toast(words.reset_done); else toast(`${j.what} : ${j.error}`, true);
    refreshBar();
  });

  // ---- picking: filters apply at once, the selected row's detail below the list
  const filters = ["#filter-text", "#filter-competency", "#filter-difficulty", "#filter-todo"];
  function applyFilters() {
    const text = $("#filter-text").value.trim().toLowerCase();
    const comp = $("#filter-competency").value;
    const diff = $("#filter-difficulty").value;
    const todoOnly = $("#filter-todo").checked;
    const evaluated = new Set();
    for (const iid of (state ? state.session.used : [])) for (const c of (catalogue[iid] || {competencies: []}).competencies) evaluated.add(c);
    let shown = 0;
    $$("#pick-table tr.iv").forEach((tr) => {
      const comps = tr.dataset.competencies.split(" ");
      const ok = (!text || tr.dataset.search.includes(text)) && (!comp || comps.includes(comp))
        && (!diff || tr.dataset.difficulty === diff) && (!todoOnly || comps.some((c) => !evaluated.has(c)));
      tr.hidden = !ok;
      if (ok) shown++;
    });
    $("#pick-empty").hidden = shown > 0;
  }
  filters.forEach((f) => $(f).addEventListener(f === "#filter-text" ? "input" : "change", applyFilters));

  function select(iid) {
    selected = iid;
    const item = catalogue[iid];
    $$("#pick-table tr.iv").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === iid));
    $("#pick-none").hidden = true;
    $("#pick-body").hidden = false;
    $("#pick-title").textContent = item.title;
    $("#pick-symptom").textContent = item.symptom;
    $("#pick-comps").textContent = `${words.competencies} : ` + item.competencies.map((c) => `${c} — ${item.competency_names[c]}`).join(" · ");
    const sel = $("#pick-variant");
    sel.replaceChildren(...item.variants.map((v) => el("option", {value: v.id}, v.title)),
      el("option", {value: "random"}, words.random));
    const note = () => {
      const v = item.variants.find((x) => x.id === sel.value);
      $("#pick-note").textContent = v && v.note ? v.note : "";
    };
    sel.onchange = note;
    note();
    updateInject();
  }
  $$("#pick-table tr.iv").forEach((tr) => {
    tr.addEventListener("click", () => select(tr.dataset.id));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(tr.dataset.id); } });
  });
  function updateInject() {
    if (!selected || !state) return;
    const busy = state.jobs.some((j) => j.kind === "inject" && j.label === selected)
      || state.active.some((a) => a.id === selected);
    $("#pick-inject").disabled = busy;
  }
  $("#pick-inject").addEventListener("click", async () => {
    const b = $("#pick-inject");
    b.disabled = true;
    try { await post(`${api}/inject`, {id: selected, variant: $("#pick-variant").value}); } catch (e) { b.disabled = false; return; }
    // the card shows at once, where the jury looks
    const c = card(selected);
    c.dataset.status = "injecting";
    c.scrollIntoView({behavior: "smooth", block: "start"});
    refreshBar();
  });

  function card(iid) {
    let c = document.getElementById(`card-${iid}`);
    if (c) return c;
    const item = catalogue[iid] || {title: iid, symptom: "", criteria: [], competency_names: {},
      jury: {diagnostic: [], fixes: [], pitfalls: []}};
    const crit = el("div", {class: "criteria"}, el("h4", {}, words.criteria));
    for (const comp of item.criteria) {
      const count = el("span", {class: "count"});
      const box = el("details", {class: "competency", "data-competency": comp.id},
        el("summary", {}, el("strong", {}, comp.id), ` — ${comp.title} `, count));
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
    const save = el("button", {class: "save-note", type: "button", onclick: async () => {
      if (!note.value.trim()) return;
      await post(`${api}/note`, {id: iid, text: note.value});
      note.value = "";
      refreshBar();
    }}, words.save_note);
    const fixes = el("ul", {class: "fixes"});
    c = el("article", {class: "attempt", id: `card-${iid}`, "data-id": iid},
      el("header", {}, el("h3", {}, item.title), el("span", {class: "badge"})),
      el("p", {class: "ticket", hidden: true}),
      el("p", {class: "symptom"}, `${words.symptom} : ${item.symptom}`),
      el("p", {class: "meta"}),
      el("p", {class: "next", hidden: ""}, words.fixed_next),
      el("ul", {class: "evidence"}),
      el("details", {class: "raw"}, el("summary", {}, words.details), el("ul", {class: "raw-lines"})),
      el("div", {class: "actions"}, el("button", {class: "restore secondary", type: "button", title: words.restore_help,
        onclick: async (e) => {
          e.target.disabled = true;
          await post(`${api}/restore`, {id: iid}).catch(() => {});
          refreshBar();
        }}, words.restore), el("button", {class: "reboot-check secondary", type: "button",
        onclick: async (e) => {
          e.target.disabled = true;
          await post(`${api}/reboot-check`, {id: iid}).catch(() => {});
          e.target.disabled = false;
          refreshBar();
        }}, words.reboot_check), el("span", {class: "restore-help meta"})),
      el("details", {class: "hints"}, el("summary", {}, `${words.diagnostic} / ${words.fixes}`),
        el("h4", {}, words.diagnostic), el("ul", {}, ...item.jury.diagnostic.map((d) => el("li", {}, d))),
        el("h4", {}, words.fixes), fixes,
        ...(item.jury.pitfalls && item.jury.pitfalls.length
          ? [el("h4", {}, words.pitfalls), el("ul", {}, ...item.jury.pitfalls.map((d) => el("li", {}, d)))] : [])),
      el("div", {class: "notes-box"}, el("h4", {}, words.notes), notes, note, save),
      crit);
    c.fixesList = fixes;
    c.item = item;
    $("#attempts").prepend(c);
    return c;
  }

  function renderFixes(c, variant) {
    const items = c.item.jury.fixes.map((f) => {
      const mine = variant && f.variants.includes(variant);
      return el("li", {class: mine ? "this-variant" : ""}, f.text,
        mine && c.item.variants.length > 1 ? el("span", {class: "tag"}, words.variant_injected) : null);
    });
    c.fixesList.replaceChildren(...items);
  }

  function render(st) {
    state = st;
    const s = st.session;
    $("#nothing").style.display = st.attempts.length ? "none" : "";
    $("#jobs").replaceChildren(...st.jobs.map((j) => el("div", {class: "job"}, `${j.what}…`)));
    $("#busy").hidden = !st.busy;
    $("#busy").textContent = st.busy || "";
    // The last failed actions in words; what the tools said only under "Détails", on demand.
    const failed = st.recent_jobs.filter((j) => j.state === "failed" && Date.now() / 1000 - j.ended < 600);
    const open = new Set($$("#failures details[open]").map((d) => d.dataset.job));
    $("#failures").replaceChildren(...failed.map((j) => el("div", {class: "failure"},
      el("p", {}, `${j.what} : ${j.error}`), j.hint ? el("p", {class: "hint"}, j.hint) : null,
      j.details ? el("details", {"data-job": String(j.id), ...(open.has(String(j.id)) ? {open: ""} : {})},
        el("summary", {}, words.more), el("pre", {}, j.details)) : null)));
    const latest = {};
    for (const a of st.attempts) latest[a.id] = a;
    for (const [iid, a] of Object.entries(latest)) {
      const c = card(iid);
      // the verdict in words, and its reason (worked around, lost at reboot) in the page's language
      const reason = a.reason ? " — " + (a.reason[document.body.dataset.lang] || a.reason.fr) : "";
      $(".badge", c).replaceChildren(el("span", {class: `status st-${a.status}`, "data-status": a.status}, a.status_label + reason));
      c.dataset.status = a.status;
      // the user's ticket in the service desk, next to the verdict (as the last read saw it)
      $(".ticket", c).hidden = !a.ticket_label;
      $(".ticket", c).textContent = a.ticket_label || "";
      const meta = [`${words.variant} : ${a.variant_title || "—"}`];
      if (a.status === "broken" && a.seconds_since_inject !== null) meta.push(`${words.since_inject} : ${mmss(a.seconds_since_inject)}`);
      if (a.failed) meta.push(a.failed);
      $(".meta", c).textContent = meta.join(" · ");
      $(".next", c).hidden = a.status !== "fixed";
      $(".evidence", c).replaceChildren(...a.sentences.map((r) =>
        el("li", {class: r.passed ? "ok" : "bad"}, (r.passed ? "✓ " : "✗ ") + r.sentence)));
      $(".raw-lines", c).replaceChildren(...a.sentences.map((r) => el("li", {}, r.raw)));
      $(".raw", c).hidden = !a.sentences.length;
      const restorable = a.active || a.status === "interrupted";
      $(".restore", c).style.display = restorable ? "" : "none";
      $(".restore", c).disabled = a.status === "injecting";
      $(".restore-help", c).textContent = restorable ? (a.repaired ? words.restore_fixed_help : words.restore_help) : "";
      if (c.variantShown !== a.variant) { renderFixes(c, a.variant); c.variantShown = a.variant; }
      const notes = (s.notes[iid] || []).map((n) => el("li", {}, el("time", {}, n.at.slice(11)), ` ${(n.actor || "").replace(/^(web|tui|cli):/, "")} : ${n.text}`));
      $(".reboot-check", c).hidden = !(a.active && a.status !== "rebooting");
      $(".notes", c).replaceChildren(...notes);
      const ticked = s.criteria[iid] || {};
      $$("input.criterion", c).forEach((cb) => {
        if (cb === document.activeElement) return;
        cb.checked = (ticked[cb.dataset.competency] || []).includes(Number(cb.dataset.index));
      });
      $$("details.competency", c).forEach((d) => {
        const n = (ticked[d.dataset.competency] || []).length;
        $(".count", d).textContent = n ? `(${n} ${words.ticked})` : "";
      });
    }
    const used = new Set(s.used);
    $$("#pick-table tr.iv").forEach((tr) => tr.classList.toggle("used", used.has(tr.dataset.id)));
    applyFilters();
    updateInject();
    for (const j of st.recent_jobs) {
      if (j.state === "failed" && !render.shown.has(j.id)) {
        render.shown.add(j.id);
        if (Date.now() / 1000 - j.ended < 30) toast(`${j.what} : ${j.error}${j.hint ? " — " + j.hint : ""}`, true);
      }
    }
  }
  render.shown = new Set();
  barHooks.push(render);
  if (location.hash.startsWith("#card-")) setTimeout(() => { const c = $(location.hash); if (c) c.scrollIntoView(); }, 1500);
}
