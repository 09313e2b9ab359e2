// The machines page follows the pod's access (opened and closed by the exam's phases).
(function () {
  const p = document.getElementById('access');
  if (!p) return;
  async function poll() {
    try {
      const r = await fetch(p.dataset.state, {credentials: 'same-origin', cache: 'no-store'});
      if (r.status === 401 || r.status === 403) { location.href = '/'; return; }
      const s = await r.json();
      p.className = s.open ? 'open' : 'closed';
      document.getElementById('access-state').textContent =
        s.open ? (document.documentElement.lang === 'en' ? 'open' : 'ouvert')
               : (document.documentElement.lang === 'en' ? 'closed' : 'fermé');
      document.getElementById('access-reason').textContent = s.reason;
    } catch (e) { /* the portal restarts: try again */ }
  }
  setInterval(poll, 2000);
})();
