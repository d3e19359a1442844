// gitoku: the only client script. Copy buttons, select-on-focus, dropdowns, line ranges, inline
// line-comment forms and ref filters; every page works without it.
/* global document, navigator, window, fetch */
(function () {
  'use strict';

  function flash(button) {
    button.classList.add('copied');
    setTimeout(function () {
      button.classList.remove('copied');
    }, 1500);
  }

  function copyFrom(input, button) {
    var text = input.value;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          flash(button);
        },
        function () {
          legacyCopy(input, button);
        },
      );
    } else {
      legacyCopy(input, button);
    }
  }

  function legacyCopy(input, button) {
    input.focus();
    input.select();
    try {
      if (document.execCommand('copy')) flash(button);
    } catch {
      // Selection is left in place so the user can press Ctrl+C.
    }
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('[data-copy-target]');
    if (!button) return;
    var input = document.getElementById(button.getAttribute('data-copy-target'));
    if (input) copyFrom(input, button);
  });

  document.addEventListener('focusin', function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute('data-select-on-focus')) {
      setTimeout(function () {
        el.select();
      }, 0);
    }
  });

  // Close the user menu when clicking elsewhere or pressing Escape.
  document.addEventListener('click', function (event) {
    document.querySelectorAll('details.menu[open]').forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute('open');
    });
  });
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    document.querySelectorAll('details.menu[open]').forEach(function (menu) {
      menu.removeAttribute('open');
      var summary = menu.querySelector('summary');
      if (summary) summary.focus();
    });
  });
})();

(function () {
  'use strict';

  // ---------- dropdowns: close on outside click and Escape ----------
  document.addEventListener('click', function (event) {
    document.querySelectorAll('details.dropdown[open]').forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute('open');
    });
  });
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    document.querySelectorAll('details.dropdown[open]').forEach(function (d) {
      d.removeAttribute('open');
      var summary = d.querySelector('summary');
      if (summary) summary.focus();
    });
  });

  // ---------- branch/tag filter inside switchers ----------
  // Ref switchers list a few recent branches inline; typing asks the server (/-/refs?q=) for matching
  // branches and tags. Other filtered dropdowns filter their own items.
  function refItem(name, href, selected, check) {
    var li = document.createElement('li');
    var a = document.createElement('a');
    a.className = selected ? 'dropdown-item selected' : 'dropdown-item';
    a.href = href;
    a.title = name;
    a.setAttribute('data-filter-text', name);
    if (check) a.appendChild(check.cloneNode(true));
    var span = document.createElement('span');
    span.className = 'mono';
    span.textContent = name;
    a.appendChild(span);
    li.appendChild(a);
    return li;
  }
  function refSection(title, names, template, current, check) {
    var frag = document.createDocumentFragment();
    var head = document.createElement('div');
    head.className = 'dropdown-section';
    head.textContent = title;
    frag.appendChild(head);
    var ul = document.createElement('ul');
    ul.className = 'dropdown-list';
    names.forEach(function (name) {
      var encoded = name.split('/').map(encodeURIComponent).join('/');
      ul.appendChild(refItem(name, template.split('__gitoku_ref__').join(encoded), name === current, check));
    });
    frag.appendChild(ul);
    return frag;
  }
  function remoteRefFilter(switcher, input) {
    var results = switcher.querySelector('[data-ref-results]');
    var url = switcher.getAttribute('data-refs-url');
    var template = switcher.getAttribute('data-ref-href');
    var current = switcher.getAttribute('data-ref-current');
    var check = switcher.querySelector('.dropdown-check');
    var initial = results.innerHTML;
    var timer = null;
    var seq = 0;
    input.addEventListener('input', function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q === '') {
        seq++;
        results.innerHTML = initial;
        return;
      }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(url + '?q=' + encodeURIComponent(q) + '&limit=50', { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
          .then(function (res) {
            return res.ok ? res.json() : null;
          })
          .then(function (data) {
            if (!data || mine !== seq) return;
            results.textContent = '';
            if (data.branches.length) results.appendChild(refSection('Branches', data.branches, template, current, check));
            if (data.tags.length) results.appendChild(refSection('Tags', data.tags, template, current, check));
            if (!data.branches.length && !data.tags.length) {
              var none = document.createElement('div');
              none.className = 'dropdown-section';
              none.textContent = 'Nothing found';
              results.appendChild(none);
            }
          })
          .catch(function () {});
      }, 120);
    });
  }
  document.querySelectorAll('.dropdown-filter').forEach(function (box) {
    var input = box.querySelector('input');
    var panel = box.closest('.dropdown-panel');
    if (!input || !panel) return;
    var switcher = box.closest('details.ref-switcher');
    if (switcher && switcher.getAttribute('data-refs-url') && switcher.getAttribute('data-ref-href') && switcher.querySelector('[data-ref-results]') && window.fetch) {
      box.hidden = false;
      remoteRefFilter(switcher, input);
      return;
    }
    box.hidden = false;
    input.addEventListener('input', function () {
      var q = input.value.trim().toLowerCase();
      panel.querySelectorAll('[data-filter-text]').forEach(function (a) {
        var li = a.closest('li') || a;
        li.hidden = q !== '' && a.getAttribute('data-filter-text').toLowerCase().indexOf(q) < 0;
      });
    });
  });
  document.addEventListener('toggle', function (event) {
    var d = event.target;
    if (d && d.matches && d.matches('details.ref-switcher[open]')) {
      var input = d.querySelector('.dropdown-filter input');
      if (input) input.focus();
    }
  }, true);

  // ---------- "Load diff": a large comparison's deferred file, fetched in place ----------
  document.addEventListener('click', function (event) {
    var link = event.target && event.target.closest ? event.target.closest('a.load-diff') : null;
    if (!link || !window.fetch || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var slot = link.closest('.diff-deferred');
    if (!slot) return;
    event.preventDefault();
    link.textContent = 'Loading…';
    fetch(link.href, { headers: { 'X-Gitoku-Fragment': 'diff-file' }, credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error(String(res.status));
        return res.text();
      })
      .then(function (html) {
        var box = document.createElement('div');
        box.innerHTML = html;
        slot.replaceWith.apply(slot, Array.prototype.slice.call(box.childNodes));
      })
      .catch(function () {
        // Fall back to the file's own page.
        window.location.href = link.href;
      });
  });

  // ---------- deferred "last commit" cells of a directory listing ----------
  document.querySelectorAll('ul.file-list[data-last-commits]').forEach(function (list) {
    if (!window.fetch) return;
    fetch(list.getAttribute('data-last-commits'), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (!data) return;
        var byName = {};
        data.entries.forEach(function (e) {
          byName[e.name] = e;
        });
        list.querySelectorAll('li[data-entry]').forEach(function (row) {
          var e = byName[row.getAttribute('data-entry')];
          if (!e) return;
          var cell = row.querySelector('.file-commit');
          if (cell) {
            var a = document.createElement('a');
            a.className = 'file-commit';
            a.href = e.href;
            a.title = e.title;
            a.textContent = e.title;
            cell.replaceWith(a);
          }
          var age = row.querySelector('.file-age');
          if (age) {
            var t = document.createElement('time');
            t.setAttribute('datetime', e.date);
            t.title = e.dateTitle;
            t.textContent = e.age;
            age.textContent = '';
            age.appendChild(t);
          }
          row.removeAttribute('data-entry');
        });
      })
      .catch(function () {});
  });

  // ---------- line anchors: #L12 and #L10-L20 ----------
  var table = document.querySelector('[data-line-anchors]');
  function parseRange(hash) {
    var m = /^#L(\d+)(?:-L(\d+))?$/.exec(hash || '');
    if (!m) return null;
    var a = Number(m[1]);
    var b = m[2] ? Number(m[2]) : a;
    return a <= b ? [a, b] : [b, a];
  }
  function highlight(scroll) {
    if (!table) return;
    table.querySelectorAll('tr.hl').forEach(function (tr) {
      tr.classList.remove('hl');
    });
    var range = parseRange(window.location.hash);
    if (!range) return;
    for (var n = range[0]; n <= range[1]; n++) {
      var row = document.getElementById('L' + n);
      if (row) row.classList.add('hl');
    }
    var first = document.getElementById('L' + range[0]);
    if (scroll && first && range[0] !== range[1]) first.scrollIntoView({ block: 'center' });
  }
  var anchorLine = null;
  if (table) {
    highlight(true);
    window.addEventListener('hashchange', function () {
      highlight(false);
    });
    table.addEventListener('click', function (event) {
      var link = event.target.closest && event.target.closest('a[data-line]');
      if (!link) return;
      var n = Number(link.getAttribute('data-line'));
      var current = parseRange(window.location.hash);
      if (event.shiftKey && (anchorLine || current)) {
        event.preventDefault();
        var from = anchorLine || current[0];
        var a = Math.min(from, n);
        var b = Math.max(from, n);
        window.history.replaceState(null, '', a === b ? '#L' + a : '#L' + a + '-L' + b);
        highlight(false);
        return;
      }
      anchorLine = n;
    });
  }

  // ---------- inline line-comment forms on pull request diffs ----------
  var template = document.getElementById('line-comment-template');
  document.addEventListener('click', function (event) {
    var cancel = event.target.closest && event.target.closest('[data-cancel-comment]');
    if (cancel && cancel.closest('tr.dl-extra[data-inline]')) {
      event.preventDefault();
      cancel.closest('tr.dl-extra').remove();
      return;
    }
    var plus = event.target.closest && event.target.closest('a.add-comment');
    if (!plus || !template) return;
    event.preventDefault();
    var row = plus.closest('tr');
    var path = plus.getAttribute('data-path');
    var line = plus.getAttribute('data-line');
    var key = path + '\u0000' + line;
    var existing = Array.prototype.find.call(document.querySelectorAll('tr.dl-extra[data-inline]'), function (tr) {
      return tr.getAttribute('data-key') === key;
    });
    if (existing) {
      var ta = existing.querySelector('textarea');
      if (ta) ta.focus();
      return;
    }
    var extra = document.createElement('tr');
    extra.className = 'dl-extra';
    extra.setAttribute('data-inline', '');
    extra.setAttribute('data-key', key);
    var cell = document.createElement('td');
    cell.colSpan = 3;
    cell.appendChild(template.content.cloneNode(true));
    extra.appendChild(cell);
    cell.querySelector('input[name=path]').value = path;
    cell.querySelector('input[name=line]').value = line;
    var after = row;
    while (after.nextElementSibling && after.nextElementSibling.classList.contains('dl-extra') && !after.nextElementSibling.hasAttribute('data-inline')) after = after.nextElementSibling;
    after.parentNode.insertBefore(extra, after.nextSibling);
    var textarea = cell.querySelector('textarea');
    if (textarea) textarea.focus();
  });
})();

// A <select data-autosubmit> submits its (GET) form when changed, once every required field is chosen:
// the new pull request's branch choosers open the compare view (the "Compare" button does without script).
(function () {
  document.addEventListener('change', function (event) {
    var select = event.target;
    if (!select || select.tagName !== 'SELECT' || !select.hasAttribute('data-autosubmit') || !select.form) return;
    if (select.form.checkValidity()) select.form.submit();
  });
})();
