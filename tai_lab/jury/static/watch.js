// The jury watches the candidate's machines.
// Desktops: live in noVNC, view-only, through the candidates' portal (a one-time token from
// this console for each connection); a picture a second when the portal is not running.
// With the keyboard taken, text and keys are typed on the machine (the console's own
// requests) and a click on the screen clicks there.
// Terminals: each open one grows here as the candidate types (read-only xterm.js, fed by
// polling its recording from the last byte read).
import RFB from '/vendor/novnc/core/rfb.js';

const csrf = document.body.dataset.csrf;
function post(url, body) {
  return fetch(url, {method: 'POST', credentials: 'same-origin',
                     headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                     body: JSON.stringify(body)});
}
window.taiRfb = {};

document.querySelectorAll('section.watch').forEach(sec => {
  const img = sec.querySelector('img.screen');
  const live = sec.querySelector('.screen-live');
  const status = sec.querySelector('.status');
  const take = sec.querySelector('button.take');
  const form = sec.querySelector('form.keyboard');
  const mode = sec.querySelector('.mode');
  const how = sec.querySelector('.how');
  const viewOnly = mode.textContent;
  let taken = false, pictures = false, failures = 0;

  // ---- a picture a second (the portal is not running, or not reachable from this browser)
  img.addEventListener('load', () => {
    status.textContent = '';
    sec.dataset.frames = String(Number(sec.dataset.frames || 0) + 1);
    setTimeout(refresh, 1000);
  });
  img.addEventListener('error', () => {
    status.textContent = status.dataset.unreachable;
    setTimeout(refresh, 2000);
  });
  function refresh() { img.src = sec.dataset.screen + '?t=' + Date.now(); }
  function usePictures() {
    if (pictures) return;
    pictures = true;
    live.hidden = true;
    img.hidden = false;
    how.textContent = how.dataset.picture;
    sec.dataset.view = 'pictures';
    refresh();
  }

  // ---- live, view-only (the portal drops any key or pointer message of this connection)
  function connect() {
    post(sec.dataset.live, {}).then(r => r.ok ? r.json() : Promise.reject(r.status)).then(d => {
      live.hidden = false;
      live.replaceChildren();
      const rfb = new RFB(live, d.url, {shared: true});
      rfb.viewOnly = true;
      rfb.scaleViewport = true;
      rfb.resizeSession = false;
      let connected = false;
      rfb.addEventListener('connect', () => {
        connected = true;
        failures = 0;
        status.textContent = '';
        how.textContent = how.dataset.live;
        sec.dataset.view = 'live';
      });
      rfb.addEventListener('disconnect', () => {
        sec.dataset.view = 'reconnecting';
        if (!connected && ++failures >= 3) { usePictures(); return; }
        status.textContent = status.dataset.unreachable;
        setTimeout(connect, 2000);
      });
      window.taiRfb[sec.dataset.node] = rfb;
    }).catch(() => usePictures());
  }
  if (sec.dataset.liveOn === '1') connect(); else usePictures();

  // ---- the keyboard, taken by the jury member who plays the user
  take.addEventListener('click', () => {
    taken = !taken;
    form.hidden = !taken;
    take.textContent = taken ? take.dataset.give : take.dataset.take;
    mode.textContent = taken ? '' : viewOnly;
    if (taken) form.querySelector('input').focus();
  });
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const input = form.querySelector('input');
    post(sec.dataset.keys, {text: input.value}).then(() => { input.value = ''; input.focus(); });
  });
  form.querySelectorAll('button.key').forEach(b => b.addEventListener('click',
    () => post(sec.dataset.keys, {text: '', keys: [b.dataset.key]})));
  function clickAt(ev, el, w, h) {
    if (!taken || !w) return;
    const r = el.getBoundingClientRect();
    post(sec.dataset.click, {x: Math.round((ev.clientX - r.left) * w / r.width),
                             y: Math.round((ev.clientY - r.top) * h / r.height)});
  }
  img.addEventListener('click', ev => clickAt(ev, img, img.naturalWidth, img.naturalHeight));
  live.addEventListener('click', ev => {
    const c = live.querySelector('canvas');
    if (c) clickAt(ev, c, c.width, c.height);
  });
});

// ---- the candidate's terminals, live
const box = document.getElementById('live-terminals');
const followed = {};
window.taiTerms = followed;
const clock = t => new Date(t * 1000).toLocaleTimeString(document.documentElement.lang || 'fr');

function follow(t) {
  box.querySelector('.none').hidden = true;
  const sec = document.createElement('section');
  sec.className = 'live-term';
  sec.dataset.number = String(t.number);
  sec.dataset.state = 'live';
  const h = document.createElement('h3');
  h.textContent = [t.node, t.account, clock(t.started)].filter(Boolean).join(' — ');
  const div = document.createElement('div');
  div.className = 'term';
  sec.append(h, div);
  box.append(sec);
  const term = new Terminal({cols: 80, rows: 24, disableStdin: true, cursorBlink: false, scrollback: 5000,
                             fontFamily: '"DejaVu Sans Mono", monospace'});
  term.open(div);
  followed[t.number] = term;
  let offset = 0;
  function poll() {
    fetch(`/api/pod/${box.dataset.pod}/terminal/${t.number}/live?from=${offset}`, {credentials: 'same-origin'})
      .then(r => r.ok ? r.json() : Promise.reject(r.status))
      .then(d => {
        if (d.width) term.resize(Math.max(10, Math.min(500, d.width)), Math.max(5, Math.min(200, d.height)));
        for (const [, code, data] of d.events) {
          if (code === 'o') term.write(data);
          else if (code === 'r') {
            const m = /^(\d+)x(\d+)$/.exec(data);
            if (m) term.resize(Math.max(10, Math.min(500, +m[1])), Math.max(5, Math.min(200, +m[2])));
          }
        }
        offset = d.offset;
        sec.dataset.offset = String(offset);
        if (d.ended && !d.more) {
          sec.dataset.state = 'ended';
          sec.classList.add('ended');
          h.textContent += ` — ${box.dataset.ended}${d.end ? ' — ' + d.end : ''}`;
          return;
        }
        setTimeout(poll, d.more ? 0 : 500);
      })
      .catch(() => setTimeout(poll, 2000));
  }
  poll();
}

function list() {
  fetch(box.dataset.list, {credentials: 'same-origin'})
    .then(r => r.ok ? r.json() : Promise.reject(r.status))
    .then(d => { for (const t of d.terminals) if (t.live && !followed[t.number]) follow(t); })
    .catch(() => {})
    .finally(() => setTimeout(list, 2000));
}
list();
