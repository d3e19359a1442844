// gitoku: the issue page's script — follows the agent runs live. While a run is queued or
// running (or one is about to start after an agent was assigned), it polls the issue's /live JSON,
// updates the run badges in place, and reloads the page when a run starts or ends, a pull request is
// opened or the issue is closed, so the server-rendered timeline shows it. Without JavaScript a
// <noscript> refresh does the same. Values from the server only ever become text (textContent).
/* global document, window, fetch */
(function () {
  'use strict';

  var STATUS_LABEL = { queued: 'Queued', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', blocked: 'Blocked' };

  function formsDirty() {
    var fields = document.querySelectorAll('textarea, input[type="text"]');
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) return true;
    }
    var open = document.querySelector('details.side-picker[open], details#edit-issue[open]');
    return !!open;
  }

  function setBadge(id, status) {
    var badge = document.getElementById(id);
    if (!badge || !STATUS_LABEL[status]) return;
    badge.className = 'run-status run-status-' + status;
    badge.setAttribute('data-run-status', status);
    var text = badge.querySelector('.run-status-text');
    if (text) text.textContent = STATUS_LABEL[status];
  }

  function start() {
    var live = document.getElementById('issue-live');
    if (!live || typeof fetch === 'undefined') return;
    var url = live.getAttribute('data-live-url');
    if (!url) return;
    var key = live.getAttribute('data-live-key') || '';
    var text = live.querySelector('.issue-live-text');
    var failures = 0;
    var started = Date.now();
    var reloading = false;

    function reload() {
      if (reloading) return;
      if (formsDirty()) {
        // Keep what is being typed: offer the reload instead.
        if (text) text.textContent = 'This issue has changed. ';
        if (!live.querySelector('a.issue-live-reload')) {
          var a = document.createElement('a');
          a.className = 'issue-live-reload';
          a.href = window.location.pathname;
          a.textContent = 'Reload';
          live.appendChild(a);
        }
        return;
      }
      reloading = true;
      window.location.reload();
    }

    function poll() {
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (res) {
          if (!res.ok) throw new Error('HTTP ' + res.status);
          return res.json();
        })
        .then(function (data) {
          failures = 0;
          var runs = Array.isArray(data.runs) ? data.runs : [];
          var active = false;
          runs.forEach(function (r) {
            var n = Number(r.number);
            if (!n) return;
            setBadge('side-run-' + n + '-status', String(r.status));
            setBadge('timeline-run-' + n + '-status', String(r.status));
            if (r.status === 'queued' || r.status === 'running' || r.status === 'blocked') active = true;
          });
          if (text && active) text.textContent = 'An agent is working on this issue';
          if (typeof data.key === 'string' && data.key !== key) {
            key = data.key;
            reload();
            return;
          }
          // Nothing changed: keep polling while something may still happen (at most an hour).
          if (Date.now() - started < 3600 * 1000) window.setTimeout(poll, 2000);
        })
        .catch(function () {
          failures++;
          if (text) text.textContent = 'Reconnecting…';
          if (failures < 20) window.setTimeout(poll, Math.min(15000, 2000 * Math.pow(2, failures)));
        });
    }

    live.hidden = false;
    window.setTimeout(poll, 1500);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
