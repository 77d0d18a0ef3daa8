// abg web UI: the approvals inbox panel, the tab title and notifications.
//
// GET /ui/api/approvals fills the panel at load; the live stream's
// `approval` events (an approval's row each time it is asked or answered)
// keep it current. One row per pending approval: who asks, what (the
// command and cwd, the files, the tool and its arguments), why, how long
// ago, and the buttons the request offers; the full detail (a diff line by
// line) one click away. An answered row says how, then leaves. A refused
// answer (answered elsewhere first: 409) is shown in the row, never dropped.
//
// Agent text is data: every node is built with createElement and
// textContent, and control and bidi characters are shown as `^[` or
// `<U+202E>` (like the CLI's terminal_text) so nothing reorders or hides
// what a request says.
'use strict';

(function () {
  const SHOW_ANSWERED_MS = 10000; // how long an answered row stays
  const PREVIEW = 300; // characters of arguments in the row itself
  const MAX_DETAIL = 200000; // characters of detail rendered at most
  const KINDS = {
    command: 'wants to run a command',
    file_change: 'wants to change files',
    permissions: 'asks for permissions',
    tool: 'wants to use a tool',
    user_input: 'asks you a question',
    elicitation: 'asks for input',
    unknown: 'asks something abg does not know',
  };
  const VIA = { tui: 'in the TUI', cli: 'from abg', web: 'in the web UI', agent: 'by the agent' };
  const CTRL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

  // Control and bidi characters made visible (newline and tab kept).
  function visible(text) {
    return String(text).replace(CTRL, (c) => {
      const n = c.charCodeAt(0);
      if (n < 0x20) return '^' + String.fromCharCode(n + 64);
      if (n === 0x7f) return '^?';
      return '<U+' + n.toString(16).toUpperCase().padStart(4, '0') + '>';
    });
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = visible(text);
    return e;
  }

  function str(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(' ');
    return JSON.stringify(v);
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  // The files a file change touches, and its diff text, whatever shape the
  // agent gave them in (`files`/`paths`, `changes` as a list or a map).
  function files(d) {
    const out = [];
    let diff = typeof d.diff === 'string' ? d.diff : '';
    for (const k of ['files', 'paths']) {
      if (Array.isArray(d[k])) d[k].forEach((f) => out.push(str(f.path || f)));
    }
    if (typeof d.path === 'string') out.push(d.path);
    if (typeof d.file_path === 'string') out.push(d.file_path);
    const changes = d.changes;
    const add = (path, c) => {
      if (path) out.push(path);
      const text = c && (c.unified_diff || c.diff || c.content);
      if (typeof text === 'string') diff += (diff ? '\n' : '') + text;
    };
    if (Array.isArray(changes)) changes.forEach((c) => add(str(c && c.path), c));
    else if (changes && typeof changes === 'object') Object.keys(changes).forEach((p) => add(p, changes[p]));
    return { list: [...new Set(out.filter(Boolean))], diff };
  }

  // A diff, one line a node, +/- lines styled.
  function diffNode(text) {
    const pre = el('pre', 'ap-diff');
    for (const line of text.slice(0, MAX_DETAIL).split('\n')) {
      const c = line[0];
      const cls = line.startsWith('@@') ? 'hunk' : line.startsWith('+++') || line.startsWith('---') ? 'file'
        : c === '+' ? 'add' : c === '-' ? 'del' : 'ctx';
      pre.appendChild(el('span', 'dl ' + cls, line + '\n'));
    }
    return pre;
  }

  window.AbgApprovals = function (api) {
    const rows = new Map(); // id -> { el, data }
    const panel = document.getElementById('approvals');
    const box = document.getElementById('ap-list');
    const notifyBtn = document.getElementById('notify');
    let base = document.title;
    let skew = 0; // daemon clock minus ours
    let notify = false;

    function who(a) {
      return window.AbgPeers.name(a.peer);
    }

    function offered(a) {
      if (a.kind === 'unknown') return [];
      return Array.isArray(a.options) ? a.options : ['approve', 'deny'];
    }

    function how(a) {
      const via = VIA[a.answered_via] || (a.answered_via ? 'via ' + a.answered_via : '');
      const dec = a.decision || {};
      switch (a.state) {
        case 'approved':
          return (dec.decision === 'approve_for_session' ? 'approved for the session ' : 'approved ') + via;
        case 'denied': return 'denied ' + via;
        case 'answered_elsewhere':
          return a.answered_via === 'agent' ? 'withdrawn by the agent' : 'answered ' + (via || 'elsewhere');
        case 'expired': return 'expired: nobody answered in time';
        case 'abandoned':
          return 'abandoned: ' + (dec.error || 'the answer could not reach the agent') +
            ' (nothing was approved; answer in ' + who(a) + '\u2019s terminal)';
        default: return a.state;
      }
    }

    function summary(a) {
      const d = a.detail || {};
      const what = el('div', 'ap-what');
      const tool = d.tool || d.tool_name || d.server || d.method;
      // Claude's relay names a tool and previews its input (for Bash and
      // Write too), with no command or file fields of their own.
      const args = d.input || d.input_preview || d.arguments || d.args || d.questions || d.message;
      if (d.command) {
        what.appendChild(el('code', 'ap-cmd', str(d.command)));
        if (d.cwd) what.appendChild(el('span', 'ap-cwd', 'in ' + str(d.cwd)));
      } else if (a.kind === 'file_change' && (files(d).list.length || !tool)) {
        const f = files(d);
        what.appendChild(el('span', 'ap-files', f.list.length ? f.list.join(', ')
          : '(' + who(a) + ' names no files here: its terminal shows the change)'));
      } else if (a.kind === 'command' && !tool) {
        what.appendChild(el('code', 'ap-cmd', '(no command given)'));
      } else {
        if (tool) what.appendChild(el('code', 'ap-tool', str(tool)));
        if (args !== undefined) {
          const text = str(args);
          what.appendChild(el('code', 'ap-args', text.length > PREVIEW ? text.slice(0, PREVIEW) + ' …' : text));
        }
      }
      return what;
    }

    function detailNode(a) {
      const d = a.detail || {};
      const det = el('details', 'ap-detail');
      det.appendChild(el('summary', null, 'Full detail'));
      const f = a.kind === 'file_change' ? files(d) : { diff: typeof d.diff === 'string' ? d.diff : '' };
      if (f.diff) det.appendChild(diffNode(f.diff));
      const all = JSON.stringify(d, null, 2) || '';
      det.appendChild(el('pre', 'ap-json', all.slice(0, MAX_DETAIL)));
      return det;
    }

    function note(rec, text, cls) {
      const n = rec.el.querySelector('.ap-note');
      n.textContent = visible(text);
      n.className = 'ap-note' + (cls ? ' ' + cls : '');
    }

    async function answer(rec, decision) {
      const reason = rec.el.querySelector('.ap-reason-in');
      const req = { decision };
      if (reason && reason.value.trim()) req.reason = reason.value.trim();
      rec.el.querySelectorAll('.ap-actions button').forEach((b) => { b.disabled = true; });
      note(rec, 'sending…');
      try {
        const r = await api('/ui/api/approvals/' + encodeURIComponent(rec.data.id),
          { method: 'POST', body: JSON.stringify(req) });
        apply(r.approval, false);
      } catch (e) {
        rec.refusal = 'Refused: ' + e.message;
        note(rec, rec.refusal, 'refused');
        rec.el.dataset.refused = String(e.status || 'error');
        rec.el.querySelectorAll('.ap-actions button').forEach((b) => { b.disabled = false; });
        // The server knows better than this row: take its state (the note stays).
        load().catch(() => {});
      }
    }

    function actions(rec) {
      const a = rec.data;
      const bar = el('div', 'ap-actions');
      const opts = offered(a);
      if (!opts.length) {
        bar.appendChild(el('span', 'ap-readonly', 'Answer this in ' + who(a) + '\u2019s own terminal (the TUI).'));
        return bar;
      }
      const label = { approve: 'Approve', approve_for_session: 'Approve for session', deny: 'Deny' };
      for (const o of ['approve', 'approve_for_session', 'deny']) {
        if (!opts.includes(o)) continue;
        if (o === 'deny') {
          const r = el('input', 'ap-reason-in');
          r.type = 'text';
          r.placeholder = 'reason for denying (optional)';
          r.setAttribute('aria-label', 'Reason for denying');
          r.maxLength = 2000;
          bar.appendChild(r);
        }
        const b = el('button', 'ap-' + o.replace(/_/g, '-'), label[o]);
        b.type = 'button';
        b.dataset.decision = o;
        b.addEventListener('click', () => answer(rec, o));
        bar.appendChild(b);
      }
      return bar;
    }

    function node(rec) {
      const a = rec.data;
      const art = el('article', 'ap');
      art.id = 'ap-' + a.id;
      art.dataset.id = a.id;
      const head = el('header');
      head.appendChild(el('span', 'ap-who who-' + a.peer.replace(/[^a-z0-9_-]/gi, ''), who(a)));
      head.appendChild(el('span', 'ap-kind', KINDS[a.kind] || KINDS.unknown));
      head.appendChild(el('span', 'ap-age'));
      art.appendChild(head);
      art.appendChild(summary(a));
      const reason = a.detail && (a.detail.reason || a.detail.description);
      if (reason) art.appendChild(el('div', 'ap-why', 'Reason: ' + str(reason)));
      art.appendChild(el('div', 'ap-note'));
      art.setAttribute('aria-live', 'polite');
      art.appendChild(detailNode(a));
      return art;
    }

    function age(rec) {
      const a = rec.data;
      const now = Date.now() + skew;
      let text = ago(now - a.created_ms) + ' ago';
      if (a.state === 'pending' && a.expires_ms) {
        text += a.expires_ms > now ? ' · expires in ' + ago(a.expires_ms - now) : ' · past its expiry';
      }
      const t = rec.el.querySelector('.ap-age');
      t.textContent = text;
      t.title = new Date(a.created_ms).toLocaleString();
    }

    function setState(rec) {
      const a = rec.data;
      rec.el.dataset.state = a.state;
      const old = rec.el.querySelector('.ap-actions');
      if (a.state === 'pending') {
        if (!old) rec.el.insertBefore(actions(rec), rec.el.querySelector('.ap-note'));
        return;
      }
      if (old) old.remove();
      if (rec.refusal) {
        note(rec, rec.refusal + ' — it was ' + how(a) + '.', 'refused');
      } else {
        note(rec, how(a), 'done');
      }
      clearTimeout(rec.timer);
      // A refusal stays its full time from now; another answer from when it was given.
      const since = rec.refusal ? 0 : Date.now() + skew - (a.answered_ms || Date.now() + skew);
      const left = SHOW_ANSWERED_MS - Math.max(0, since);
      rec.timer = setTimeout(() => { rec.el.remove(); rows.delete(a.id); refresh(); }, Math.max(left, 1500));
    }

    // Take the approval `a` as it now stands; `live`: it came on the stream.
    function apply(a, live) {
      let rec = rows.get(a.id);
      if (!rec) {
        if (a.state !== 'pending' && (!a.answered_ms || Date.now() + skew - a.answered_ms > SHOW_ANSWERED_MS)) return;
        rec = { data: a };
        rec.el = node(rec);
        rows.set(a.id, rec);
        box.appendChild(rec.el);
        if (live && a.state === 'pending') notifyOf(a);
      } else if (rec.data.state !== 'pending' && a.state === 'pending') {
        return; // a replayed request event: the row already moved on
      }
      rec.data = a;
      setState(rec);
      age(rec);
      refresh();
    }

    function pendingCount() {
      let n = 0;
      rows.forEach((r) => { if (r.data.state === 'pending') n += 1; });
      return n;
    }

    function refresh() {
      const n = pendingCount();
      panel.hidden = rows.size === 0;
      panel.dataset.pending = String(n);
      document.getElementById('ap-title').textContent =
        n ? n + ' approval' + (n === 1 ? '' : 's') + ' waiting for you' : 'Approvals';
      document.title = n ? '(' + n + ') ' + base : base;
    }

    function notifyOf(a) {
      if (!notify || !('Notification' in window) || Notification.permission !== 'granted') return;
      const d = a.detail || {};
      const body = visible(str(d.command) || files(d).list.join(', ') || str(d.tool || d.reason || d.description)).slice(0, 200);
      try {
        new Notification('abg: ' + who(a) + ' ' + (KINDS[a.kind] || KINDS.unknown), { body, tag: a.id });
      } catch (_) { /* not allowed here */ }
    }

    function setNotify(on) {
      notify = on;
      try { localStorage.setItem('abg-notify', on ? '1' : '0'); } catch (_) { /* private mode */ }
      notifyBtn.textContent = on ? 'Notifications on' : 'Notify me';
      notifyBtn.setAttribute('aria-pressed', String(on));
    }

    // Asked once, on the click: never on load.
    function initNotify() {
      if (!('Notification' in window)) { notifyBtn.hidden = true; return; }
      let saved = false;
      try { saved = localStorage.getItem('abg-notify') === '1'; } catch (_) { /* private mode */ }
      setNotify(saved && Notification.permission === 'granted');
      notifyBtn.addEventListener('click', () => {
        if (Notification.permission === 'granted') { setNotify(!notify); return; }
        if (Notification.permission === 'denied') {
          notifyBtn.textContent = 'Notifications blocked by the browser';
          return;
        }
        Notification.requestPermission().then((p) => setNotify(p === 'granted'));
      });
    }

    async function load() {
      const r = await api('/ui/api/approvals?answered=20');
      skew = r.now_ms - Date.now();
      for (const a of r.approvals) apply(a, false);
      // A pending row the server no longer lists as pending was closed.
      const listed = new Set(r.approvals.map((a) => a.id));
      rows.forEach((rec, id) => {
        if (rec.data.state === 'pending' && !listed.has(id)) { rec.el.remove(); rows.delete(id); }
      });
      refresh();
    }

    initNotify();
    setInterval(() => rows.forEach((rec) => age(rec)), 15000);

    return {
      load,
      apply,
      setPair(name) { base = 'abg — ' + visible(name); refresh(); },
    };
  };
})();
