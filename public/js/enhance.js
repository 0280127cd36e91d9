// Progressive enhancement only: every form below works the same without this script.
(function () {
  'use strict';

  // Move focus to the error summary of a failed form, so screen readers announce it.
  var summary = document.getElementById('error-summary');
  if (summary) summary.focus();

  // Ask before destructive actions (refuse, cancel). The question comes from the server-rendered page.
  document.addEventListener('submit', function (event) {
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute('data-confirm')) || event.target.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // The contacts filter submits itself as you type (still the same GET form underneath).
  var filter = document.querySelector('form[data-live-filter]');
  if (filter) {
    var timer;
    var search = filter.querySelector('input[type="search"]');
    if (search) {
      search.addEventListener('input', function () {
        clearTimeout(timer);
        timer = setTimeout(function () { filter.requestSubmit(); }, 400);
      });
    }
    filter.querySelectorAll('select').forEach(function (select) {
      select.addEventListener('change', function () { filter.requestSubmit(); });
    });
  }
})();
