// The jury watches a desktop: a new frame every second (view-only); with the keyboard
// taken, text and keys are typed on the machine and a click on the picture clicks there.
(function () {
  const csrf = document.body.dataset.csrf;
  function post(url, body) {
    return fetch(url, {method: 'POST', credentials: 'same-origin',
                       headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                       body: JSON.stringify(body)});
  }
  document.querySelectorAll('section.watch').forEach(sec => {
    const img = sec.querySelector('img.screen');
    const status = sec.querySelector('.status');
    const take = sec.querySelector('button.take');
    const form = sec.querySelector('form.keyboard');
    const mode = sec.querySelector('.mode');
    const viewOnly = mode.textContent;
    let taken = false;
    // The picture's own URL (the console's CSP allows images from itself only, no blob:).
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
    img.addEventListener('click', ev => {
      if (!taken || !img.naturalWidth) return;
      const r = img.getBoundingClientRect();
      post(sec.dataset.click, {x: Math.round((ev.clientX - r.left) * img.naturalWidth / r.width),
                               y: Math.round((ev.clientY - r.top) * img.naturalHeight / r.height)});
    });
    refresh();
  });
})();
