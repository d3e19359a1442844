// gitoku: the task pages' script — the live trace (Server-Sent Events), ticking durations, the
// agent/model selects. Every page works without it. Trace text is untrusted: it only ever becomes
// text nodes (textContent), never markup.
/* global document, window, EventSource */
(function () {
  'use strict';

  var STATUS_LABEL = { queued: 'Queued', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', blocked: 'Blocked' };
  var KIND_LABEL = { message: 'Agent', thinking: 'Thinking', status: 'Status', error: 'Error', file_edit: 'Edit', command: 'Command', tool_call: 'Tool', usage: 'Usage', log: 'Output' };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function str(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'object') {
      try {
        return JSON.stringify(v, null, 2);
      } catch {
        return String(v);
      }
    }
    return String(v);
  }

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function formatDuration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }

  function formatBytes(size) {
    if (size < 1024) return size + ' B';
    var units = ['KB', 'MB', 'GB'];
    var value = size / 1024;
    var i = 0;
    while (value >= 1024 && i < units.length - 1) {
      value /= 1024;
      i++;
    }
    return (value < 10 ? value.toFixed(1) : Math.round(value)) + ' ' + units[i];
  }

  function lineCount(text) {
    return text ? text.replace(/\n$/, '').split('\n').length : 0;
  }

  // ---------- durations that keep ticking while a run is running ----------

  function startTickers() {
    var tickers = Array.prototype.slice.call(document.querySelectorAll('[data-elapsed-from]'));
    if (!tickers.length) return;
    var skew = 0;
    var serverNow = Number(tickers[0].getAttribute('data-server-now'));
    if (serverNow) skew = serverNow - Date.now();
    window.setInterval(function () {
      tickers.forEach(function (t) {
        var from = Date.parse(t.getAttribute('data-elapsed-from'));
        if (!isNaN(from)) t.textContent = formatDuration(Date.now() + skew - from);
      });
    }, 1000);
  }

  // ---------- agent → model ----------

  function syncModels(driver, model) {
    Array.prototype.forEach.call(model.querySelectorAll('optgroup'), function (group) {
      var on = group.getAttribute('data-driver') === driver.value;
      group.disabled = !on;
      group.hidden = !on;
      if (!on && model.selectedIndex >= 0 && group.contains(model.options[model.selectedIndex])) model.value = '';
    });
  }

  function startAgentSelects() {
    Array.prototype.forEach.call(document.querySelectorAll('select[data-driver-select]'), function (driver) {
      var model = document.getElementById(driver.getAttribute('data-driver-select'));
      if (!model) return;
      driver.addEventListener('change', function () {
        syncModels(driver, model);
      });
      syncModels(driver, model);
    });
  }

  // ---------- <details> opened by links (the Fork button) ----------

  function openDetails(id) {
    var details = document.getElementById(id);
    if (details && details.tagName === 'DETAILS') details.open = true;
  }

  function startDetailsLinks() {
    document.addEventListener('click', function (event) {
      var link = event.target.closest && event.target.closest('[data-open-details]');
      if (link) openDetails(link.getAttribute('data-open-details'));
    });
    if (window.location.hash.length > 1) openDetails(window.location.hash.slice(1));
  }

  // ---------- the live trace ----------

  function clock(iso, t0) {
    var ms = Date.parse(iso) - t0;
    if (isNaN(ms)) return '';
    var s = Math.max(0, Math.floor(ms / 1000));
    return '+' + Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  }

  /** The same markup as TraceBody in src/web/views/pages/run.tsx. */
  function traceBody(kind, d) {
    var body = el('div', 'trace-body');
    switch (kind) {
      case 'message':
        body.appendChild(el('div', 'trace-text', str(d.text)));
        break;
      case 'thinking':
        body.appendChild(el('div', 'trace-text trace-thinking-text', str(d.text)));
        break;
      case 'status':
        body.appendChild(el('div', 'trace-status-text', str(d.message)));
        break;
      case 'error':
        body.appendChild(el('div', 'trace-error-text', str(d.message)));
        break;
      case 'file_edit': {
        var action = str(d.action);
        var file = el('div', 'trace-file');
        file.appendChild(el('span', 'trace-verb', action === 'delete' ? 'Deleted' : action === 'append' ? 'Appended to' : 'Wrote'));
        file.appendChild(document.createTextNode(' '));
        file.appendChild(el('code', 'trace-path', str(d.path)));
        var bytes = num(d.bytes);
        if (bytes !== null && action !== 'delete') file.appendChild(el('span', 'muted trace-bytes', formatBytes(bytes)));
        body.appendChild(file);
        break;
      }
      case 'command': {
        var code = num(d.exit_code);
        var output = str(d.output);
        var ok = code === 0 && d.timed_out !== true;
        var cmd = el('div', 'trace-cmd');
        var line = el('div', 'trace-cmd-line');
        line.appendChild(el('code', 'trace-cmd-text', '$ ' + str(d.command)));
        line.appendChild(el('span', ok ? 'trace-exit trace-exit-ok' : 'trace-exit trace-exit-bad', d.timed_out === true ? 'timed out' : 'exit ' + (code === null ? '?' : code)));
        cmd.appendChild(line);
        if (output) {
          var details = el('details', 'trace-output');
          if (!ok) details.open = true;
          var n = lineCount(output);
          details.appendChild(el('summary', null, 'Output · ' + n + (n === 1 ? ' line' : ' lines')));
          details.appendChild(el('pre', 'trace-pre', output));
          cmd.appendChild(details);
        }
        body.appendChild(cmd);
        break;
      }
      case 'tool_call': {
        var tool = el('div', 'trace-tool');
        var head = el('div', null, 'Tool ');
        head.appendChild(el('code', null, str(d.tool)));
        tool.appendChild(head);
        if (d.input !== undefined) tool.appendChild(el('pre', 'trace-pre', str(d.input)));
        if (d.output !== undefined && str(d.output)) {
          var result = el('details', 'trace-output');
          result.appendChild(el('summary', null, 'Result'));
          result.appendChild(el('pre', 'trace-pre', str(d.output)));
          tool.appendChild(result);
        }
        body.appendChild(tool);
        break;
      }
      case 'usage': {
        var parts = [];
        [['input', num(d.input_tokens)], ['output', num(d.output_tokens)], ['total', num(d.total_tokens)]].forEach(function (p) {
          if (p[1] !== null) parts.push(p[1].toLocaleString('en') + ' ' + p[0]);
        });
        body.appendChild(el('div', 'trace-status-text', 'Usage: ' + (parts.length ? parts.join(' · ') : 'not reported') + ' tokens'));
        break;
      }
      default:
        body.appendChild(el('pre', 'trace-pre', str(d)));
    }
    return body;
  }

  function formsDirty() {
    var fields = document.querySelectorAll('main form textarea, main form input[type=text]');
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) return true;
    }
    return false;
  }

  function startLiveTrace() {
    var trace = document.getElementById('run-trace');
    if (!trace || typeof EventSource === 'undefined') return;
    var url = trace.getAttribute('data-events-url');
    if (!url) return;
    var lastId = Number(trace.getAttribute('data-after')) || 0;
    var t0 = Date.parse(trace.getAttribute('data-t0'));
    var empty = document.getElementById('run-trace-empty');
    var live = document.getElementById('run-live');
    var liveText = live && live.querySelector('.run-live-text');
    var badge = document.getElementById('run-status');
    var maxAttempt = 0;
    Array.prototype.forEach.call(trace.querySelectorAll('[data-attempt]'), function (item) {
      maxAttempt = Math.max(maxAttempt, Number(item.getAttribute('data-attempt')) || 0);
    });

    function setLive(text, offline) {
      if (!live) return;
      live.hidden = false;
      live.classList.toggle('is-offline', !!offline);
      if (liveText) liveText.textContent = text;
    }

    function setStatus(status) {
      if (!badge || !STATUS_LABEL[status]) return;
      badge.className = 'run-status run-status-lg run-status-' + status;
      badge.setAttribute('data-run-status', status);
      var text = badge.querySelector('.run-status-text');
      if (text) text.textContent = STATUS_LABEL[status];
      trace.setAttribute('data-status', status);
      var side = document.getElementById('run-side-status');
      if (side) side.textContent = STATUS_LABEL[status];
    }

    function item(kind, e) {
      var li = el('li', 'trace-item trace-' + kind.replace(/[^a-z_]/g, '') + ' is-new');
      li.setAttribute('data-id', String(e.id));
      li.setAttribute('data-kind', kind);
      li.setAttribute('data-attempt', String(e.attempt));
      li.appendChild(el('span', 'trace-kind', KIND_LABEL[kind] || kind));
      return li;
    }

    function time(e) {
      var t = el('time', 'trace-time', clock(e.created_at, t0));
      t.setAttribute('datetime', str(e.created_at));
      return t;
    }

    function append(e) {
      var kind = str(e.kind);
      var d = e.data && typeof e.data === 'object' && !Array.isArray(e.data) ? e.data : { value: e.data };
      var attempt = Number(e.attempt) || 0;
      if (attempt > maxAttempt) {
        if (maxAttempt >= 1) {
          var sep = el('li', 'trace-item trace-attempt');
          sep.setAttribute('data-attempt', String(attempt));
          sep.appendChild(el('div', 'trace-body', 'Attempt ' + attempt + ': the runner tried again'));
          trace.appendChild(sep);
        }
        maxAttempt = attempt;
      }
      if (kind === 'log') {
        var span = el('span', d.stream === 'stderr' ? 'log-stderr' : 'log-stdout', str(d.text));
        var last = trace.lastElementChild;
        if (last && last.getAttribute('data-kind') === 'log') {
          var term = last.querySelector('.trace-terminal');
          var atBottom = term.scrollTop + term.clientHeight >= term.scrollHeight - 8;
          term.appendChild(span);
          if (atBottom) term.scrollTop = term.scrollHeight;
          last.setAttribute('data-id', String(e.id));
          return;
        }
        var li = item('log', e);
        var body = el('div', 'trace-body');
        var pre = el('pre', 'trace-terminal');
        pre.appendChild(span);
        body.appendChild(pre);
        li.appendChild(body);
        li.appendChild(time(e));
        trace.appendChild(li);
        return;
      }
      var node = item(kind, e);
      node.appendChild(traceBody(kind, d));
      node.appendChild(time(e));
      trace.appendChild(node);
    }

    var sep = url.indexOf('?') < 0 ? '?' : '&';
    var source = new EventSource(url + sep + 'after=' + lastId);
    var finished = false;
    var opened = false;

    source.addEventListener('open', function () {
      opened = true;
      setLive('Live', false);
    });
    source.addEventListener('trace', function (message) {
      var e;
      try {
        e = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!e || typeof e.id !== 'number' || e.id <= lastId) return;
      lastId = e.id;
      trace.setAttribute('data-after', String(lastId));
      if (empty) empty.hidden = true;
      append(e);
    });
    source.addEventListener('status', function (message) {
      try {
        setStatus(JSON.parse(message.data).status);
      } catch {
        // ignore a malformed status
      }
    });
    source.addEventListener('end', function (message) {
      finished = true;
      source.close();
      var status = '';
      try {
        status = JSON.parse(message.data).status;
      } catch {
        // reload anyway
      }
      setStatus(status);
      // The diff, the result and the pull request link are rendered by the server: reload, unless
      // that would throw away something typed into a form on this page.
      if (formsDirty()) {
        setLive('Finished · ', true);
        var reload = el('a', null, 'reload');
        reload.href = window.location.pathname;
        if (live) live.appendChild(reload);
        return;
      }
      setLive('Finished', true);
      window.setTimeout(function () {
        window.location.reload();
      }, 700);
    });
    source.addEventListener('error', function () {
      if (finished) return;
      if (source.readyState === EventSource.CLOSED) {
        // The stream was refused (or never opened): follow the run by reloading, like without JavaScript.
        setLive('Offline', true);
        window.setTimeout(function () {
          window.location.reload();
        }, opened ? 3000 : 5000);
      } else {
        setLive('Reconnecting…', true);
      }
    });
  }

  function start() {
    startTickers();
    startAgentSelects();
    startDetailsLinks();
    startLiveTrace();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
