// Progressive enhancement only: every form below works the same without this script, and posts the
// same fields when it runs. No text lives here: messages come from the page (data-* attributes
// rendered by the server in the reader's language).
(function () {
  'use strict';

  var doc = document;

  function byId(id) {
    return id ? doc.getElementById(id) : null;
  }

  function describedBy(input, id, present) {
    var ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(function (item) {
      return item && item !== id;
    });
    if (present) ids.push(id);
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  }

  // Same markup as views/partials/text-field.ejs: <p class="field-error" id="field-x-error"> before the input.
  function showFieldError(input, message) {
    var id = input.id + '-error';
    var error = byId(id);
    if (message) {
      if (!error) {
        error = doc.createElement('p');
        error.className = 'field-error';
        error.id = id;
        input.parentNode.insertBefore(error, input);
      }
      error.textContent = message;
      input.setAttribute('aria-invalid', 'true');
    } else {
      if (error) error.remove();
      input.removeAttribute('aria-invalid');
    }
    describedBy(input, id, Boolean(message));
  }

  function parseHtml(html) {
    return new window.DOMParser().parseFromString(html, 'text/html');
  }

  function fill(template, values) {
    return String(template || '').replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      return null;
    }
  }

  // --------------------------------------------------------------- dates in the browser's time zone

  // The server writes dates in the reader's chosen zone or, when the reader chose none, in the
  // default zone, marking those with data-local (the Intl locale of the page's language). These are
  // shown in the browser's own zone instead, with the same options as PAGE_DATE_OPTIONS in
  // src/i18n/dates.ts (a test keeps the two equal). The datetime attribute is the moment, in UTC.
  var DATE_OPTIONS = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' };
  var dateFormats = {};

  function showLocalTimes(root) {
    if (!window.Intl || typeof window.Intl.DateTimeFormat !== 'function') return;
    Array.prototype.forEach.call(root.querySelectorAll('time[data-local]'), function (time) {
      var at = new Date(time.getAttribute('datetime') || '');
      if (isNaN(at.getTime())) return;
      var locale = time.getAttribute('data-local') || doc.documentElement.lang || 'en';
      try {
        if (!dateFormats[locale]) dateFormats[locale] = new window.Intl.DateTimeFormat(locale, DATE_OPTIONS);
        time.textContent = dateFormats[locale].format(at);
      } catch {
        // A locale or zone this browser does not know: the server's text stays.
      }
    });
  }
  showLocalTimes(doc);

  // --------------------------------------------------------------- error summary

  // Move focus to the error summary of a failed form, so screen readers announce it.
  function focusSummary() {
    var summary = byId('error-summary');
    if (summary) summary.focus();
  }
  focusSummary();

  // A link of the summary puts the caret in its field (a plain #fragment only scrolls to it).
  doc.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('.error-summary a[href^="#"]');
    if (!link) return;
    var field = byId(link.getAttribute('href').slice(1));
    if (!field || typeof field.focus !== 'function') return;
    event.preventDefault();
    field.focus();
    if (field.scrollIntoView) field.scrollIntoView({ block: 'center' });
  });

  // --------------------------------------------------------------- confirm before destructive actions

  // Ask before destructive actions (refuse, cancel). The question comes from the server-rendered page.
  // Registered first: the handlers below leave alone a submission this one cancelled.
  doc.addEventListener('submit', function (event) {
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute('data-confirm')) || event.target.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // --------------------------------------------------------------- contacts: filter as you type

  // The filter form is still the same GET form: the script fetches the page it would load and swaps
  // the results in, so the search field keeps focus and caret. If that fails it loads the page, and
  // puts focus and caret back once the new page is there.
  var filter = doc.querySelector('form[data-live-filter]');
  if (filter) liveFilter(filter);

  function liveFilter(form) {
    var search = form.querySelector('input[type="search"]');
    var countId = form.getAttribute('data-count');
    var resultsId = form.getAttribute('data-results');
    var caretKey = 'live-filter-caret:' + window.location.pathname;
    var timer = null;
    var controller = null;
    var sequence = 0;

    restoreCaret();

    function restoreCaret() {
      var store = storage();
      var saved = store && store.getItem(caretKey);
      if (!saved || !search) return;
      store.removeItem(caretKey);
      var caret;
      try {
        caret = JSON.parse(saved) || {};
      } catch {
        caret = {};
      }
      var length = search.value.length;
      search.focus();
      try {
        search.setSelectionRange(Math.min(caret.start == null ? length : caret.start, length), Math.min(caret.end == null ? length : caret.end, length));
      } catch {
        // type=search supports selection in every current browser; nothing to do if one does not.
      }
    }

    function target() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (value !== '') params.append(name, value);
      });
      var query = params.toString();
      return form.getAttribute('action') + (query ? '?' + query : '');
    }

    function load(url) {
      var store = storage();
      if (store && search && doc.activeElement === search) {
        try {
          store.setItem(caretKey, JSON.stringify({ start: search.selectionStart, end: search.selectionEnd }));
        } catch {
          // Storage full or disabled: the page still loads, without the caret.
        }
      }
      window.location.assign(url);
    }

    function refresh() {
      clearTimeout(timer);
      var url = target();
      var results = byId(resultsId);
      var count = byId(countId);
      if (!results || !count || !window.DOMParser) return load(url);
      if (controller) controller.abort();
      controller = window.AbortController ? new window.AbortController() : null;
      var mine = ++sequence;
      form.setAttribute('aria-busy', 'true');
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' }, signal: controller ? controller.signal : undefined })
        .then(function (response) {
          if (!response.ok || response.redirected) throw new Error('HTTP ' + response.status);
          return response.text();
        })
        .then(function (html) {
          if (mine !== sequence) return;
          var page = parseHtml(html);
          var nextResults = page.getElementById(resultsId);
          var nextCount = page.getElementById(countId);
          if (!nextResults || !nextCount) throw new Error('unexpected page');
          results.replaceWith(doc.importNode(nextResults, true));
          // The count is a polite live region: changing its text announces the new number of rows.
          if (count.textContent !== nextCount.textContent) count.textContent = nextCount.textContent;
          if (window.history && window.history.replaceState) window.history.replaceState(null, '', url);
          form.removeAttribute('aria-busy');
        })
        .catch(function (error) {
          if (error && error.name === 'AbortError') return;
          if (mine === sequence) load(url);
        });
    }

    form.addEventListener('submit', function (event) {
      if (event.defaultPrevented) return;
      event.preventDefault();
      refresh();
    });
    if (search) {
      search.addEventListener('input', function () {
        clearTimeout(timer);
        timer = setTimeout(refresh, 300);
      });
    }
    form.querySelectorAll('select').forEach(function (select) {
      select.addEventListener('change', refresh);
    });
  }

  // --------------------------------------------------------------- edit form: handle format, read-only fields

  var handleForm = doc.querySelector('form[data-handle-form]');
  if (handleForm) enhanceHandleForm(handleForm);

  function enhanceHandleForm(form) {
    var inputs = Array.prototype.slice.call(form.querySelectorAll('input[data-pattern]'));
    var status = byId('edit-status');

    function messageFor(input) {
      if (input.readOnly) return '';
      var value = input.value.trim().toLowerCase();
      if (value === '') return form.getAttribute('data-msg-required') || '';
      var pattern;
      try {
        pattern = new RegExp(input.getAttribute('data-pattern'));
      } catch {
        return '';
      }
      return pattern.test(value) ? '' : form.getAttribute('data-msg-format') || '';
    }

    // Same markup as views/partials/error-summary.ejs.
    function showSummary(errors) {
      var summary = byId('error-summary');
      if (!summary) {
        summary = doc.createElement('div');
        summary.className = 'error-summary';
        summary.id = 'error-summary';
        summary.setAttribute('role', 'alert');
        summary.setAttribute('tabindex', '-1');
        summary.setAttribute('aria-labelledby', 'error-summary-title');
        var title = doc.createElement('h2');
        title.id = 'error-summary-title';
        title.textContent = form.getAttribute('data-msg-summary') || '';
        summary.appendChild(title);
        summary.appendChild(doc.createElement('ul'));
        var formNotice = byId('field-form');
        form.parentNode.insertBefore(summary, formNotice || form);
      }
      var list = summary.querySelector('ul') || summary.appendChild(doc.createElement('ul'));
      list.textContent = '';
      errors.forEach(function (item) {
        var li = doc.createElement('li');
        var link = doc.createElement('a');
        link.href = '#' + item.input.id;
        link.textContent = item.message;
        li.appendChild(link);
        list.appendChild(li);
      });
      summary.focus();
    }

    doc.addEventListener('submit', function (event) {
      if (event.target !== form || event.defaultPrevented) return;
      var errors = [];
      inputs.forEach(function (input) {
        var message = messageFor(input);
        showFieldError(input, message);
        if (message) errors.push({ input: input, message: message });
      });
      if (errors.length === 0) return;
      event.preventDefault();
      showSummary(errors);
    });

    inputs.forEach(function (input) {
      if (input.readOnly) {
        // Typing into a field one may not change: say so, and which fields one may change.
        input.addEventListener('keydown', function (event) {
          var message = input.getAttribute('data-msg-readonly');
          var typing = event.key && (event.key.length === 1 || event.key === 'Backspace' || event.key === 'Delete');
          if (!message || !status || !typing || event.ctrlKey || event.metaKey || event.altKey) return;
          if (status.textContent === message) return;
          status.textContent = message;
        });
        return;
      }
      // A field with a message: the message goes as soon as the value is right, and follows the value
      // when the field is left. New messages only appear on submit: one appearing when the field loses
      // focus would push the submit button away from under the pointer that is clicking it.
      input.addEventListener('input', function () {
        if (input.getAttribute('aria-invalid') === 'true' && !messageFor(input)) showFieldError(input, '');
      });
      input.addEventListener('change', function () {
        var message = messageFor(input);
        if (message && input.getAttribute('aria-invalid') === 'true') showFieldError(input, message);
      });
    });
  }

  // --------------------------------------------------------------- My requests: decide in place, follow the state

  var requestsTable = doc.querySelector('table[data-poll-states]');
  if (requestsTable) enhanceRequests(requestsTable);

  function enhanceRequests(table) {
    var labels;
    try {
      labels = JSON.parse(table.getAttribute('data-labels') || '{}');
    } catch {
      labels = {};
    }
    var stateLabels = labels.states || {};
    var decisionLabels = labels.decisions || {};
    var decidedLabel = labels.decided || '';
    var changedTemplate = table.getAttribute('data-msg-changed') || '';
    var flash = byId('flash');
    // Poll for a short while only: about a minute and a half in all, slower and slower.
    var DELAYS = [2000, 3000, 5000, 5000, 10000, 10000, 15000, 15000, 15000, 15000];
    var RECENT_MS = 15 * 60 * 1000;

    function stateUrl(id) {
      return '/requests/' + encodeURIComponent(id) + '/state';
    }

    function fetchState(id) {
      return fetch(stateUrl(id), { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
        .then(function (response) {
          if (!response.ok || response.redirected) return null;
          return response.json();
        })
        .catch(function () {
          return null;
        });
    }

    function announce(nodes) {
      if (!flash) return;
      flash.textContent = '';
      nodes.forEach(function (node) {
        flash.appendChild(node);
      });
    }

    function notice(text) {
      var box = doc.createElement('div');
      box.className = 'notice notice--info';
      var p = doc.createElement('p');
      p.textContent = text;
      box.appendChild(p);
      return box;
    }

    function update(row, data) {
      if (!data || typeof data.state !== 'string') return;
      (data.parties || []).forEach(function (party) {
        row.querySelectorAll('li[data-handle]').forEach(function (item) {
          if (item.getAttribute('data-handle') !== party.handle) return;
          var decision = item.querySelector('[data-field="decision"]');
          var label = decisionLabels[party.decision || 'none'];
          if (decision && label) decision.textContent = label;
        });
      });
      if (row.getAttribute('data-state') === data.state) return;
      var state = row.querySelector('[data-field="state"]');
      var label = stateLabels[data.state] || data.state;
      if (state) {
        state.textContent = label;
        state.className = 'state state--' + data.state;
      }
      row.setAttribute('data-state', data.state);
      if (data.state !== 'pending') {
        // Deciding, resending and cancelling only apply to pending requests.
        var actions = row.querySelector('.row-actions');
        if (actions) actions.textContent = '';
        showDecided(row, data.decidedAt);
      }
      announce([notice(fill(changedTemplate, { id: row.getAttribute('data-request-id'), state: label }))]);
    }

    // Once a request left pending, its row says when it was decided instead of when it expires, as the
    // server renders it (same markup as views/partials/time.ejs, from the state's decidedAt).
    function showDecided(row, decidedAt) {
      var cell = row.querySelector('[data-field="deadline"]');
      if (!cell || !decidedAt || !decidedAt.datetime) return;
      var time = doc.createElement('time');
      time.setAttribute('datetime', decidedAt.datetime);
      if (decidedAt.local) time.setAttribute('data-local', decidedAt.local);
      time.textContent = decidedAt.text || '';
      cell.textContent = decidedLabel + ' ';
      cell.appendChild(time);
      showLocalTimes(cell);
    }

    function poll(row, step) {
      if (step >= DELAYS.length) return;
      setTimeout(function () {
        if (!row.isConnected || row.getAttribute('data-state') !== 'pending') return;
        fetchState(row.getAttribute('data-request-id')).then(function (data) {
          if (!data) return;
          update(row, data);
          if (data.state === 'pending') poll(row, step + 1);
        });
      }, DELAYS[step]);
    }

    // Rows still pending that the user decided recently: the other party may decide any moment.
    table.querySelectorAll('tr[data-request-id][data-state="pending"][data-decided-at]').forEach(function (row) {
      var decidedAt = Number(row.getAttribute('data-decided-at'));
      if (decidedAt && Date.now() - decidedAt < RECENT_MS) poll(row, 0);
    });

    function plainSubmit(form, submitter) {
      if (submitter && submitter.name) {
        var hidden = doc.createElement('input');
        hidden.type = 'hidden';
        hidden.name = submitter.name;
        hidden.value = submitter.value;
        form.appendChild(hidden);
      }
      // HTMLFormElement.submit() fires no submit event: no second confirmation, no interception.
      form.submit();
    }

    function showTokenError(form, message) {
      var input = form.querySelector('input[name="token"]');
      if (!input) return;
      showFieldError(input, message);
      input.focus();
    }

    // A decision given in a row is posted by the script (same fields, same URL); the page stays, shows the
    // server's message in the status area and follows the request's state.
    doc.addEventListener('submit', function (event) {
      if (event.defaultPrevented) return;
      var form = event.target;
      if (!form.matches || !form.matches('form[action$="/confirm"]') || !table.contains(form)) return;
      var row = form.closest('tr[data-request-id]');
      if (!row || !window.DOMParser) return;
      event.preventDefault();
      var submitter = event.submitter;
      var data;
      try {
        data = new FormData(form, submitter);
      } catch {
        data = new FormData(form);
        if (submitter && submitter.name) data.append(submitter.name, submitter.value);
      }
      var buttons = form.querySelectorAll('button');
      buttons.forEach(function (button) {
        button.disabled = true;
      });
      var body = new URLSearchParams();
      data.forEach(function (value, name) {
        body.append(name, value);
      });
      fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (response) {
          return response.text().then(function (html) {
            return { response: response, page: parseHtml(html) };
          });
        })
        .then(function (result) {
          buttons.forEach(function (button) {
            button.disabled = false;
          });
          var response = result.response;
          var page = result.page;
          // Success is the redirect to the request's page (a lapsed session redirects to the login page).
          var landed = response.redirected ? new URL(response.url).pathname : '';
          if (response.ok && landed === '/requests/' + row.getAttribute('data-request-id')) {
            var notices = Array.prototype.slice.call(page.querySelectorAll('#flash .notice')).map(function (node) {
              return doc.importNode(node, true);
            });
            announce(notices);
            row.setAttribute('data-decided-at', String(Date.now()));
            var details = form.closest('details');
            if (details) details.remove();
            else form.remove();
            return fetchState(row.getAttribute('data-request-id')).then(function (state) {
              if (!state) return;
              update(row, state);
              if (state.state === 'pending') poll(row, 0);
            });
          }
          var error = response.status === 422 && page.querySelector('.field-error');
          if (error) return showTokenError(form, error.textContent);
          plainSubmit(form, submitter);
        })
        .catch(function () {
          plainSubmit(form, submitter);
        });
    });
  }
})();
