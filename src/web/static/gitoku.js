// gitoku: the only client script. Copy buttons and select-on-focus; every page works without it.
/* global document, navigator, window */
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
