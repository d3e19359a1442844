// gitoku: the automation pages' script — the live workflow log (polling the run's /log JSON), ticking
// durations and filters that apply on change. Every page works without it (an unfinished run's page
// reloads itself). Log text is untrusted: it only ever becomes text nodes (textContent), never markup.
/* global document, window, fetch */
(function () {
  'use strict';

  var STEP_MARK = '\u25B6 ';

  function str(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  }

  function formatDuration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }

  function formatMs(ms) {
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    return Math.floor(ms / 60000) + 'm ' + String(Math.round((ms % 60000) / 1000)).padStart(2, '0') + 's';
  }

  // ---------- filters that submit on change ----------

  Array.prototype.forEach.call(document.querySelectorAll('select[data-autosubmit]'), function (select) {
    var form = select.form;
    if (!form) return;
    var button = form.querySelector('button[type=submit]');
    if (button) button.hidden = true;
    select.addEventListener('change', function () {
      form.submit();
    });
  });

  // ---------- durations that keep ticking while a run is running ----------

  var tickers = Array.prototype.slice.call(document.querySelectorAll('[data-elapsed-from]'));
  if (tickers.length) {
    var skew = Date.now() - (Number(tickers[0].getAttribute('data-server-now')) || Date.now());
    setInterval(function () {
      tickers.forEach(function (t) {
        var from = Date.parse(t.getAttribute('data-elapsed-from'));
        if (isFinite(from)) t.textContent = formatDuration(Date.now() - skew - from);
      });
    }, 1000);
  }

  // ---------- the live workflow log ----------

  var steps = document.getElementById('wf-steps');
  var url = steps && steps.getAttribute('data-log-url');
  if (!url) return;
  var after = Number(steps.getAttribute('data-after')) || 0;
  var attempt = Number(steps.getAttribute('data-attempt')) || 1;
  var cursor = Number(steps.getAttribute('data-cursor')) || 0;
  var sections = Array.prototype.slice.call(steps.querySelectorAll('.wf-step'));
  var live = document.getElementById('wf-live');
  var failures = 0;
  var reloading = false;

  function setState(section, state) {
    section.className = section.className.replace(/\bis-[a-z]+\b/g, '').trim() + ' is-' + state;
    var label = section.querySelector('.wf-step-state');
    if (label) label.textContent = state;
  }

  function append(section, cls, text) {
    var pre = section.querySelector('.wf-log');
    if (!pre) return;
    var nearBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    var span = document.createElement('span');
    span.className = 'wf-' + cls;
    span.textContent = text;
    pre.appendChild(span);
    if (nearBottom) pre.scrollTop = pre.scrollHeight;
  }

  function reload() {
    if (reloading) return;
    reloading = true;
    window.location.reload();
  }

  function apply(e) {
    if (e.attempt !== attempt) return reload(); // the runner retried: start again from the server's rendering
    var section = sections[cursor];
    if (!section) return;
    var d = e.data && typeof e.data === 'object' ? e.data : { value: e.data };
    if (e.kind === 'status') {
      var message = str(d.message);
      if (message.indexOf(STEP_MARK) === 0) {
        if (section.getAttribute('data-index') === '-1') setState(section, 'ok');
        if (!sections[cursor + 1]) return reload();
        cursor += 1;
        setState(sections[cursor], 'running');
        sections[cursor].open = true;
      } else {
        append(section, 'info', message + '\n');
      }
    } else if (e.kind === 'log') {
      append(section, str(d.stream) === 'stderr' ? 'stderr' : 'stdout', str(d.text));
    } else if (e.kind === 'command') {
      var ok = d.exit_code === 0 && d.timed_out !== true;
      setState(section, ok ? 'ok' : 'failed');
      var exit = section.querySelector('.wf-step-exit');
      if (exit) {
        exit.textContent = d.timed_out === true ? 'timed out' : 'exit ' + str(d.exit_code);
        exit.className = ok ? 'wf-step-exit is-zero' : 'wf-step-exit';
      }
      var took = /(\d+)\s*ms/.exec(str(d.output));
      var time = section.querySelector('.wf-step-time');
      if (took && time) time.textContent = formatMs(Number(took[1]));
    } else if (e.kind === 'error') {
      append(section, 'error', str(d.message) + '\n');
      setState(section, 'failed');
      section.open = true;
    } else {
      append(section, 'info', str(d) + '\n');
    }
  }

  function poll() {
    fetch(url + '?after=' + after, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (body) {
        failures = 0;
        if (live) live.classList.remove('is-offline');
        var events = Array.isArray(body.events) ? body.events : [];
        var waiting = document.querySelector('.wf-waiting');
        if (events.length && waiting) waiting.hidden = true;
        for (var i = 0; i < events.length && !reloading; i++) {
          apply(events[i]);
          after = events[i].id;
        }
        if (body.status === 'completed') return reload();
        var status = document.getElementById('wf-status');
        if (status && body.status === 'running' && status.getAttribute('data-status') === 'queued') {
          status.setAttribute('data-status', 'running');
          status.className = status.className.replace('run-status-queued', 'run-status-running');
          var text = status.querySelector('.run-status-text');
          if (text) text.textContent = 'Running';
        }
        if (!reloading) setTimeout(poll, events.length >= 2000 ? 0 : 1500);
      })
      .catch(function () {
        failures += 1;
        if (live) live.classList.add('is-offline');
        setTimeout(poll, Math.min(15000, 1500 * Math.pow(2, failures)));
      });
  }

  setTimeout(poll, 1000);
})();
