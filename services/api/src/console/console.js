// Spool console: vanilla script, no build. Everything it shows is written with textContent.
// The admin key lives in sessionStorage (this tab only) and goes out as Authorization on each call;
// no cookie authorises a change, so another site cannot make this browser act (no CSRF).
'use strict';
(function () {
  var KEY = 'spoolAdminKey';
  var $ = function (id) {
    return document.getElementById(id);
  };
  var key = function () {
    return sessionStorage.getItem(KEY) || '';
  };
  var selected = null; // { id, lastSeq, abort }
  var timer = null;

  function api(path, init) {
    init = init || {};
    var headers = Object.assign(key() ? { Authorization: 'Bearer ' + key() } : {}, init.headers || {});
    return fetch('/console/api' + path, Object.assign({}, init, { headers: headers }));
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function fill(tableId, rows, render) {
    var body = $(tableId).tBodies[0];
    body.textContent = '';
    rows.forEach(function (row) {
      var tr = document.createElement('tr');
      render(tr, row);
      body.appendChild(tr);
    });
  }

  function age(now, createdAt) {
    var s = Math.max(0, now - createdAt);
    return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' : Math.floor(s / 3600) + 'h';
  }

  function showLogin(message) {
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    if (timer) clearInterval(timer);
    timer = null;
  }

  function render(o) {
    fill('responses', o.responses, function (tr, r) {
      tr.className = 'response';
      tr.dataset.id = r.id;
      cell(tr, r.id);
      cell(tr, r.status, 'status-' + r.status);
      cell(tr, r.model);
      cell(tr, r.key_name);
      cell(tr, age(o.now, r.created_at));
      cell(tr, r.total_tokens == null ? '' : r.total_tokens);
      tr.addEventListener('click', function () {
        watch(r.id);
      });
    });
    var states = ['waiting', 'active', 'delayed', 'waiting-children', 'failed'];
    fill('queues', Object.keys(o.queues), function (tr, q) {
      cell(tr, q);
      states.forEach(function (s) {
        cell(tr, (o.queues[q] || {})[s] || 0);
      });
    });
    fill('elicitations', o.elicitations || [], function (tr, e) {
      tr.className = 'response';
      cell(tr, e.server_label + ' / ' + e.name);
      cell(tr, e.message, 'args');
      cell(tr, e.fields.join(', '));
      cell(tr, e.key_name);
      cell(tr, age(e.expires_at, o.now));
      tr.addEventListener('click', function () {
        watch(e.response_id);
      });
    });
    fill('approvals', o.approvals, function (tr, a) {
      tr.dataset.approvalId = a.approval_request_id;
      cell(tr, a.server_label + ' / ' + a.name);
      cell(tr, a.arguments, 'args');
      cell(tr, a.key_name);
      var td = cell(tr, '');
      [
        ['Approve', true],
        ['Deny', false],
      ].forEach(function (b) {
        var btn = document.createElement('button');
        btn.type = 'button';
        btn.textContent = b[0];
        btn.className = b[1] ? 'approve' : 'deny';
        btn.addEventListener('click', function () {
          decide(a, b[1], tr);
        });
        td.appendChild(btn);
      });
    });
    fill('usage', o.usage, function (tr, u) {
      [u.key_name, u.model, u.responses, u.input_tokens, u.output_tokens, u.reasoning_tokens, u.cached_tokens].forEach(function (v) {
        cell(tr, v);
      });
    });
    fill('dead-letters', o.dead_letters, function (tr, d) {
      var job = d.job || {};
      [job.responseId, job.type, d.url, d.error, d.attempts, d.failed_at ? new Date(d.failed_at * 1000).toISOString() : ''].forEach(function (v) {
        cell(tr, v);
      });
    });
    var adm = o.admission || {};
    $('admission').textContent = adm.maxQueueDepth ? 'queue bound ' + adm.maxQueueDepth + ' · refused ' + adm.rejected : '';
  }

  function refresh() {
    return api('/overview')
      .then(function (res) {
        if (res.status === 401 || res.status === 403) {
          sessionStorage.removeItem(KEY);
          return res.json().then(function (b) {
            showLogin(b.error && b.error.message);
          });
        }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json().then(function (o) {
          $('login').hidden = true;
          $('app').hidden = false;
          $('error').textContent = '';
          render(o);
        });
      })
      .catch(function (err) {
        $('error').textContent = 'Could not refresh: ' + err.message;
      });
  }

  function decide(a, approve, tr) {
    tr.querySelectorAll('button').forEach(function (b) {
      b.disabled = true;
    });
    api('/approvals/' + encodeURIComponent(a.response_id) + '/' + encodeURIComponent(a.approval_request_id), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ approve: approve }),
    })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body.error ? body.error.message : 'HTTP ' + res.status);
          $('approval-result').textContent = (approve ? 'Approved' : 'Denied') + ': follow-up ' + body.id;
          $('approval-result').dataset.responseId = body.id;
          refresh();
          watch(body.id);
        });
      })
      .catch(function (err) {
        $('approval-result').textContent = 'Failed: ' + err.message;
        tr.querySelectorAll('button').forEach(function (b) {
          b.disabled = false;
        });
      });
  }

  // Streams a response's events from its event log; a cut stream resumes after the last number.
  function watch(id) {
    if (selected && selected.abort) selected.abort.abort();
    selected = { id: id, lastSeq: -1, abort: null };
    $('events').textContent = '';
    $('events-of').textContent = id;
    follow(selected);
  }

  function follow(sel) {
    var abort = new AbortController();
    sel.abort = abort;
    var done = false;
    api('/responses/' + encodeURIComponent(sel.id) + '/events?starting_after=' + sel.lastSeq, { signal: abort.signal })
      .then(function (res) {
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        var reader = res.body.getReader();
        var decoder = new TextDecoder();
        var buffer = '';
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var at;
            while ((at = buffer.indexOf('\n\n')) !== -1) {
              var frame = buffer.slice(0, at);
              buffer = buffer.slice(at + 2);
              var data = frame
                .split('\n')
                .filter(function (l) {
                  return l.indexOf('data: ') === 0;
                })
                .map(function (l) {
                  return l.slice(6);
                })
                .join('\n');
              if (!data) continue;
              if (data === '[DONE]') {
                done = true;
                continue;
              }
              var e = JSON.parse(data);
              if (e.sequence_number <= sel.lastSeq) continue;
              sel.lastSeq = e.sequence_number;
              var li = document.createElement('li');
              li.dataset.type = e.type;
              var text = e.sequence_number + ' ' + e.type;
              if (typeof e.delta === 'string') text += ' ' + JSON.stringify(e.delta);
              if (e.item && e.item.type) text += ' [' + e.item.type + (e.item.name ? ' ' + e.item.name : '') + ']';
              li.textContent = text;
              $('events').appendChild(li);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function () {
        /* cut or aborted: resumed below unless replaced */
      })
      .then(function () {
        if (!done && selected === sel && !abort.signal.aborted)
          setTimeout(function () {
            if (selected === sel) follow(sel);
          }, 1000);
      });
  }

  $('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('admin-key').value);
    $('admin-key').value = '';
    start();
  });
  $('sign-out').addEventListener('click', function () {
    sessionStorage.removeItem(KEY);
    if (selected && selected.abort) selected.abort.abort();
    selected = null;
    showLogin('');
  });
  $('open-queues').addEventListener('click', function () {
    api('/session', { method: 'POST' }).then(function (res) {
      if (res.ok) window.open('/console/queues', '_blank', 'noopener');
    });
  });

  function start() {
    refresh();
    if (!timer) timer = setInterval(refresh, 2000);
  }
  // No key yet: try without one (a keyless loopback server needs none); a 401 shows the form.
  start();
})();
