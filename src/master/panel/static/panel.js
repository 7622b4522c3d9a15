// The panel's only script (progressive: every page works without it).
// - Live pages: on each event of the master's change stream (/panel/events, server-sent events), the
//   page is fetched again and its live parts (elements with data-live and an id) are replaced, unless
//   one holds the focus (a form being filled in is never wiped).
// - Forms with data-confirm ask before they are sent (stop, destroy, revoke).
(() => {
  'use strict';

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const question = form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  const liveParts = () => document.querySelectorAll('[data-live][id]');
  if (!('EventSource' in window) || liveParts().length === 0) return;

  let refreshing = false;
  let again = false;
  let refreshes = 0;

  function holdsFocus(element) {
    const focused = document.activeElement;
    return focused !== null && focused !== document.body && element.contains(focused);
  }

  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, {
        headers: { 'x-panel-refresh': '1' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      const type = response.headers.get('content-type') || '';
      if (!response.ok || !type.startsWith('text/html')) return;
      const next = new DOMParser().parseFromString(await response.text(), 'text/html');
      for (const element of liveParts()) {
        const replacement = next.getElementById(element.id);
        if (!replacement || holdsFocus(element)) continue;
        for (const details of element.querySelectorAll('details[open][id]')) {
          replacement.querySelector(`#${CSS.escape(details.id)}`)?.setAttribute('open', '');
        }
        element.replaceWith(document.importNode(replacement, true));
      }
      refreshes += 1;
      document.body.dataset.refreshes = String(refreshes);
    } catch {
      // The master is away: the next event refreshes.
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }

  const source = new EventSource('/panel/events');
  source.addEventListener('change', () => void refresh());
  source.addEventListener('open', () => {
    document.body.dataset.live = 'connected';
  });
})();
