// Replays a recorded terminal session (asciicast v2 output events) in xterm.js.
// Play/pause, speed, restart and a position slider; long silences are shortened.
"use strict";
(function () {
  const root = document.getElementById("replay");
  if (!root || typeof Terminal === "undefined") return;
  const words = JSON.parse(document.getElementById("replay-words").textContent);
  const playBtn = document.getElementById("play"), restartBtn = document.getElementById("restart");
  const speedSel = document.getElementById("speed"), seek = document.getElementById("seek");
  const clock = document.getElementById("clock"), marker = document.getElementById("marker");
  const MAX_IDLE = 2.0;             // seconds of silence kept at most (recording time)

  let term = null, events = [], duration = 0, width = 80, height = 24;
  let i = 0, pos = 0, playing = false, timer = null;

  const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

  function show() {
    playBtn.textContent = playing ? words.pause : words.play;
    seek.value = String(pos);
    clock.textContent = `${mmss(pos)} / ${mmss(duration)}`;
  }

  function apply(ev) {
    const [, code, data] = ev;
    if (code === "o") term.write(data);
    else if (code === "r") {
      const m = /^(\d+)x(\d+)$/.exec(data);
      if (m) term.resize(Math.max(10, Math.min(500, +m[1])), Math.max(5, Math.min(200, +m[2])));
    } else if (code === "m") marker.textContent = words.end;   // the portal's own words stay in the file
  }

  function reset() {
    clearTimeout(timer);
    timer = null;
    term.reset();
    term.resize(width, height);
    marker.textContent = "";
    i = 0;
    pos = 0;
  }

  function tick() {
    timer = null;
    if (!playing) return;
    while (i < events.length && events[i][0] <= pos + 1e-6) apply(events[i++]);
    if (i >= events.length) {
      playing = false;
      pos = duration;
      if (!marker.textContent) marker.textContent = words.end;
      show();
      return;
    }
    const next = events[i][0];
    const gap = Math.min(next - pos, MAX_IDLE);
    show();
    timer = setTimeout(() => { pos = next; tick(); }, (gap * 1000) / parseFloat(speedSel.value));
  }

  function seekTo(t) {
    const was = playing;
    playing = false;
    reset();
    let chunk = "";
    while (i < events.length && events[i][0] <= t) {
      const ev = events[i++];
      if (ev[1] === "o") chunk += ev[2];
      else { if (chunk) term.write(chunk); chunk = ""; apply(ev); }
    }
    if (chunk) term.write(chunk);
    pos = t;
    playing = was;
    show();
    if (playing) tick();
  }

  playBtn.addEventListener("click", () => {
    if (playing) { playing = false; clearTimeout(timer); timer = null; show(); return; }
    if (i >= events.length) reset();
    playing = true;
    tick();
  });
  restartBtn.addEventListener("click", () => { playing = false; reset(); playing = true; tick(); });
  speedSel.addEventListener("change", () => { if (playing) { clearTimeout(timer); tick(); } });
  seek.addEventListener("change", () => seekTo(parseFloat(seek.value)));

  fetch(root.dataset.cast, {credentials: "same-origin"})
    .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
    .then((data) => {
      events = data.events || [];
      width = data.width || 80;
      height = data.height || 24;
      duration = events.length ? events[events.length - 1][0] : 0;
      seek.max = String(duration);
      term = new Terminal({cols: width, rows: height, disableStdin: true, convertEol: false,
                           cursorBlink: false, scrollback: 5000,
                           fontFamily: '"DejaVu Sans Mono", monospace'});
      term.open(document.getElementById("screen"));
      show();
      playing = true;
      tick();
    })
    .catch((e) => { marker.textContent = "⚠ " + e.message; });
})();
