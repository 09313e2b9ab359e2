// A terminal on one of the pod's machines: xterm.js ↔ the portal's WebSocket.
// Binary frames are the terminal's bytes (UTF-8 both ways); text frames are JSON:
// {"resize": [cols, rows]} to the portal, {"closed": "why"} from it.
(function () {
  const el = document.getElementById('term');
  const ended = document.getElementById('ended');
  const term = new Terminal({cursorBlink: true, fontSize: 15, scrollback: 5000,
                             fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace'});
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  window.taiTerm = term;              // the tests read the screen through it
  const enc = new TextEncoder();
  let ws = null;

  function copy() {
    const text = term.getSelection();
    if (!text) return;
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text); return; }
    const ta = document.createElement('textarea');   // plain http on the room's network
    ta.value = text; document.body.appendChild(ta); ta.select();
    try { document.execCommand('copy'); } finally { ta.remove(); term.focus(); }
  }
  term.attachCustomKeyEventHandler(ev => {
    if (ev.type !== 'keydown') return true;
    if (ev.ctrlKey && ev.shiftKey && (ev.key === 'C' || ev.key === 'c')) { copy(); ev.preventDefault(); return false; }
    if (ev.ctrlKey && ev.shiftKey && (ev.key === 'V' || ev.key === 'v')) return false;  // the browser pastes
    if (ev.shiftKey && ev.key === 'Insert') return false;
    return true;
  });

  function send(data) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(data); }
  term.onData(d => send(enc.encode(d)));
  term.onBinary(d => send(Uint8Array.from(d, c => c.charCodeAt(0) & 255)));
  term.onResize(s => send(JSON.stringify({resize: [s.cols, s.rows]})));
  window.addEventListener('resize', () => fit.fit());

  function connect() {
    ended.hidden = true;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + el.dataset.ws
      + '?cols=' + term.cols + '&rows=' + term.rows;
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let why = null;
    ws.onopen = () => term.focus();
    ws.onmessage = ev => {
      if (typeof ev.data === 'string') {
        try { const m = JSON.parse(ev.data); if (m.closed) why = m.closed; } catch (e) {}
      } else {
        term.write(new Uint8Array(ev.data));
      }
    };
    ws.onclose = () => {
      document.getElementById('ended-why').textContent = why || '—';
      ended.hidden = false;
      el.dataset.closedAt = String(Date.now());
      el.dataset.closed = why || 'closed';
    };
  }
  document.getElementById('reconnect').addEventListener('click', () => { term.reset(); connect(); });
  connect();
})();
