// A machine's desktop: noVNC (vendored, scripts/vendor-novnc.sh) on a WebSocket of the
// portal, which relays the VNC protocol to the machine's own VNC server. The WebSocket is
// opened here (not by noVNC) so the portal's reason for closing it can be shown.
// The same page serves the jury (view-only unless the keyboard is taken): data-view-only.
import RFB from './vendor/novnc/core/rfb.js';

const screen = document.getElementById('screen');
const ended = document.getElementById('ended');
const state = document.getElementById('desktop-state');
const take = document.getElementById('take-keyboard');

function connect() {
  ended.hidden = true;
  screen.replaceChildren();
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + screen.dataset.ws;
  const ws = new WebSocket(url);
  let why = null;
  ws.addEventListener('close', ev => { why = ev.reason || null; });
  const rfb = new RFB(screen, ws, {shared: true});
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.viewOnly = screen.dataset.viewOnly === '1';
  rfb.addEventListener('connect', () => {
    state.textContent = state.dataset.connected;
    screen.dataset.connected = '1';
    if (!rfb.viewOnly) rfb.focus();
  });
  rfb.addEventListener('disconnect', () => {
    setTimeout(() => {          // the close event (and its reason) may come after noVNC's
      document.getElementById('ended-why').textContent = why || '—';
      ended.hidden = false;
      screen.dataset.connected = '0';
      screen.dataset.closed = why || 'closed';
    }, 50);
  });
  window.taiRfb = rfb;           // the tests read the state through it
  if (take) {
    take.onclick = () => {
      rfb.viewOnly = !rfb.viewOnly;
      take.setAttribute('aria-pressed', String(!rfb.viewOnly));
      take.textContent = rfb.viewOnly ? take.dataset.take : take.dataset.give;
      if (!rfb.viewOnly) rfb.focus();
    };
  }
}
document.getElementById('reconnect').addEventListener('click', connect);
connect();
