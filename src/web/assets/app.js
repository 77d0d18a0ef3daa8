// abg web UI: the live transcript, composer, history, search. The peers
// (names, sides, colours, status chips, the composer's recipients) come
// from the daemon through peers.js; events are folded by activity.js; the
// approvals panel is approvals.js; all three are fed from here.
//
// A fan-out (one send to several peers, stored as one message each) is
// one bubble with a state chip per recipient when the daemon says the
// copies are one send (`fanout`); otherwise each copy is its own bubble,
// naming its recipient.
//
// Data flow: GET /ui/api/messages gives the newest page and the stream
// cursor; /ui/api/stream (SSE) sends everything after it. The browser's
// EventSource resumes with Last-Event-ID; after a hard failure (daemon
// restarted) we open a new one with ?after=<last cursor>. Messages are
// keyed by id and deliveries applied by log seq, so nothing shows twice.
'use strict';

(function () {
  const R = window.AbgRender;
  const COLLAPSE_CHARS = 1000;
  const COLLAPSE_LINES = 16;
  const PLAIN_OVER = 200000;
  const FANOUT_MS = 60000; // copies of one send are stored together
  const P = window.AbgPeers;

  const S = {
    csrf: null,
    cursor: null,
    msgs: new Map(), // id -> { el, chip, group, data, logSeq }
    groups: new Map(), // fanout -> { el, from, body, kind, ts, members }
    pending: new Map(), // message id -> newest delivery entry not yet placed
    oldestSeq: null,
    hasMore: true,
    loadingOlder: false,
    es: null,
    retry: null,
  };

  const $ = (id) => document.getElementById(id);
  const approvals = window.AbgApprovals((path, opts) => api(path, opts));
  const list = $('items');
  const scroller = $('transcript');
  const activity = window.AbgActivity(list, place);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function time(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function size(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB'
      : n >= 1024 ? Math.round(n / 1024) + ' KB' : n + ' chars';
  }

  function banner(text) {
    const b = $('banner');
    b.textContent = text || '';
    b.hidden = !text;
  }

  async function api(path, opts) {
    const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
    if (o.method && o.method !== 'GET') {
      o.headers['x-abg-csrf'] = S.csrf || '';
      o.headers['content-type'] = 'application/json';
    }
    const r = await fetch(path, o);
    if (r.status === 401) {
      banner('Not logged in (or the session expired): run `abg ui` and open the new link.');
      throw new Error('unauthorized');
    }
    if (!r.ok) {
      let msg = r.statusText;
      try { msg = (await r.json()).message || msg; } catch (_) { /* not JSON */ }
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  // ---- placing items in order (time, then kind, then seq; activity
  // lines are activity.js's and are passed over) ----
  function keyOf(n) {
    return [Number(n.dataset.ts), Number(n.dataset.rank), Number(n.dataset.seq)];
  }
  function before(a, b) {
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
    return false;
  }
  function place(node) {
    const k = keyOf(node);
    let n = list.lastElementChild;
    while (n && (n.classList.contains('activity') || before(k, keyOf(n)))) n = n.previousElementSibling;
    list.insertBefore(node, n ? n.nextSibling : list.firstChild);
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }
  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // ---- messages ----
  function renderBody(box, body, expanded) {
    box.textContent = '';
    if (expanded) {
      box.appendChild(body.length > PLAIN_OVER ? R.plain(body) : R.markdown(body));
      return;
    }
    let cut = body.slice(0, COLLAPSE_CHARS);
    const lines = cut.split('\n');
    if (lines.length > COLLAPSE_LINES) cut = lines.slice(0, COLLAPSE_LINES).join('\n');
    box.appendChild(R.markdown(cut + (cut.length < body.length ? ' …' : '')));
  }

  function isLong(body) {
    if (body.length > COLLAPSE_CHARS) return true;
    let n = 0;
    for (let i = 0; i < body.length && n <= COLLAPSE_LINES; i++) if (body[i] === '\n') n++;
    return n > COLLAPSE_LINES;
  }

  // Why a delivery is where it is: the typed reason, said in words; the
  // free-text detail follows it in the badge's tooltip. The chip is the
  // recipient's; a bubble of one recipient carries its state too.
  function setState(rec, state, detail, reason) {
    const badge = rec.chip.querySelector('.state');
    Object.assign(rec.chip.dataset, { state: state || '', reason: reason || '' });
    if (rec.group.members.length === 1) Object.assign(rec.el.dataset, { state: state || '', reason: reason || '' });
    badge.textContent = state || '—';
    badge.className = 'state st-' + (state || 'none');
    const why = reason ? reason.replace(/_/g, ' ') : '';
    badge.title = why && detail ? why + ' — ' + detail : why || detail || '';
  }

  // One recipient's chip: (in a fan-out) its name, its busy policy, its
  // delivery state.
  function chipNode(m) {
    const c = el('span', ['rcpt', P.palette(m.to)].join(' ').trim());
    Object.assign(c.dataset, { to: m.to, id: m.id });
    if (m.on_busy) c.appendChild(el('span', 'policy', m.on_busy));
    c.appendChild(el('span', 'state'));
    return c;
  }

  function messageNode(m) {
    const side = P.side(m.from);
    const cls = ['msg', 'side-' + side, P.palette(m.from), m.kind === 'notice' ? 'notice' : ''];
    const art = el('article', cls.filter(Boolean).join(' '));
    art.id = 'm-' + m.id;
    Object.assign(art.dataset, { id: m.id, from: m.from, to: m.to, side, ts: m.created_ms, rank: 1, seq: m.seq });
    const head = el('header');
    head.appendChild(el('span', 'who', P.name(m.from) + ' → ' + P.name(m.to)));
    const t = el('time', null, time(m.created_ms));
    t.dateTime = new Date(m.created_ms).toISOString();
    head.appendChild(t);
    head.appendChild(el('span', 'seq', '#' + m.seq));
    const rcpts = el('span', 'rcpts');
    rcpts.appendChild(chipNode(m));
    head.appendChild(rcpts);
    art.appendChild(head);
    const box = el('div', 'body');
    art.appendChild(box);
    const long = isLong(m.body);
    renderBody(box, m.body, !long);
    if (long) {
      const btn = el('button', 'toggle', 'Show all (' + size(m.body.length) + ')');
      btn.type = 'button';
      btn.setAttribute('aria-expanded', 'false');
      btn.addEventListener('click', () => {
        const open = btn.getAttribute('aria-expanded') !== 'true';
        renderBody(box, m.body, open);
        btn.setAttribute('aria-expanded', String(open));
        btn.textContent = open ? 'Collapse' : 'Show all (' + size(m.body.length) + ')';
      });
      art.appendChild(btn);
    }
    return art;
  }

  // The bubble a copy of a fan-out joins: the one of the same send (the
  // daemon's `fanout`), from the same sender with the same body, close in
  // time, not yet holding that recipient. Anything less stays its own.
  function joinable(m) {
    const g = m.fanout ? S.groups.get(m.fanout) : null;
    if (!g || g.from !== m.from || g.body !== m.body || g.kind !== m.kind) return null;
    if (Math.abs(g.ts - m.created_ms) > FANOUT_MS) return null;
    return g.members.some((r) => r.data.to === m.to) ? null : g;
  }

  // Say a bubble's recipients: in the header, and a named chip each
  // (registration order) once there is more than one.
  function recipients(g) {
    g.members.sort((a, b) => P.order(a.data.to) - P.order(b.data.to) || a.data.seq - b.data.seq);
    const many = g.members.length > 1;
    const box = g.el.querySelector('.rcpts');
    for (const r of g.members) {
      box.appendChild(r.chip);
      const named = r.chip.querySelector('.rcpt-name');
      if (many && !named) r.chip.insertBefore(el('span', 'rcpt-name', P.name(r.data.to)), r.chip.firstChild);
      else if (!many && named) named.remove();
    }
    const tos = g.members.map((r) => r.data.to);
    g.el.querySelector('.who').textContent = P.name(g.from) + ' → ' + tos.map(P.name).join(', ');
    Object.assign(g.el.dataset, { to: tos.join(','), ids: g.members.map((r) => r.data.id).join(',') });
    if (many) {
      g.el.dataset.fanout = String(g.members.length);
      Object.assign(g.el.dataset, { state: '', reason: '' });
    }
  }

  function addMessage(m) {
    const known = S.msgs.get(m.id);
    if (known) {
      if (m.state && known.logSeq === 0) setState(known, m.state, m.detail, m.reason);
      return;
    }
    const stick = nearBottom();
    const rec = { data: m, logSeq: 0, el: null, chip: null, group: null };
    let g = joinable(m);
    if (g) {
      rec.chip = chipNode(m);
      g.members.push(rec);
      if (m.seq < Number(g.el.dataset.seq)) {
        // An older copy (history loaded later): the bubble is its first.
        Object.assign(g.el.dataset, { id: m.id, ts: m.created_ms, seq: m.seq });
        g.el.id = 'm-' + m.id;
        g.el.remove();
        place(g.el);
      }
    } else {
      g = { el: messageNode(m), from: m.from, body: m.body, kind: m.kind, ts: m.created_ms, members: [rec] };
      rec.chip = g.el.querySelector('.rcpt');
      if (m.fanout && !S.groups.has(m.fanout)) S.groups.set(m.fanout, g);
      place(g.el);
    }
    rec.el = g.el;
    rec.group = g;
    S.msgs.set(m.id, rec);
    recipients(g);
    setState(rec, m.state, m.detail, m.reason);
    activity.fold();
    if (S.oldestSeq === null || m.seq < S.oldestSeq) S.oldestSeq = m.seq;
    const p = S.pending.get(m.id);
    if (p) {
      S.pending.delete(m.id);
      applyDelivery(p);
    }
    if (stick) toBottom();
  }

  function applyDelivery(d) {
    const rec = S.msgs.get(d.message_id);
    if (!rec) {
      const p = S.pending.get(d.message_id);
      if (!p || p.seq < d.seq) S.pending.set(d.message_id, d);
      return;
    }
    if (d.seq <= rec.logSeq) return;
    rec.logSeq = d.seq;
    setState(rec, d.state, d.detail, d.reason);
  }

  // ---- events (folded, see activity.js) ----
  function addEvent(ev) {
    const stick = nearBottom();
    if (activity.add(ev) && stick) toBottom();
  }

  // ---- status bar ----
  function setStatus(s) {
    P.set(s.peers || []);
    $('pair').textContent = 'abg · ' + s.pair_name;
  }

  function setConn(state) {
    const c = $('st-conn');
    c.textContent = state;
    c.dataset.state = state;
  }

  // ---- live stream ----
  function track(e) {
    if (e.lastEventId) S.cursor = e.lastEventId;
  }

  function connect() {
    if (S.es) S.es.close();
    const es = new EventSource('/ui/api/stream?after=' + encodeURIComponent(S.cursor));
    S.es = es;
    es.addEventListener('message', (e) => { track(e); addMessage(JSON.parse(e.data)); });
    es.addEventListener('delivery', (e) => { track(e); applyDelivery(JSON.parse(e.data)); });
    es.addEventListener('event', (e) => { track(e); addEvent(JSON.parse(e.data)); });
    es.addEventListener('approval', (e) => { track(e); approvals.apply(JSON.parse(e.data), true); });
    es.addEventListener('status', (e) => setStatus(JSON.parse(e.data)));
    es.onopen = () => { setConn('live'); banner(''); };
    es.onerror = () => {
      setConn('reconnecting');
      if (es.readyState === EventSource.CLOSED && S.es === es) {
        clearTimeout(S.retry);
        S.retry = setTimeout(() => {
          api('/ui/api/session').then((s) => {
            S.csrf = s.csrf;
            connect();
            approvals.load().catch(() => {});
          }, () => {
            S.retry = setTimeout(connect, 3000);
          });
        }, 1500);
      }
    };
  }

  // ---- history ----
  async function loadOlder() {
    if (S.loadingOlder || !S.hasMore || S.oldestSeq === null) return;
    S.loadingOlder = true;
    const h = scroller.scrollHeight;
    const top = scroller.scrollTop;
    try {
      const page = await api('/ui/api/messages?limit=50&before=' + S.oldestSeq);
      page.messages.forEach(addMessage);
      S.hasMore = page.has_more;
      const oldestEvent = activity.oldest();
      if (oldestEvent !== null && oldestEvent > 1) {
        const evs = await api('/ui/api/events?limit=100&before=' + oldestEvent);
        evs.events.forEach(addEvent);
      }
      scroller.scrollTop = top + (scroller.scrollHeight - h);
      $('older').textContent = S.hasMore ? 'Scroll up for older messages' : 'Start of the conversation';
    } catch (e) {
      $('older').textContent = 'Could not load older messages: ' + e.message;
    } finally {
      S.loadingOlder = false;
    }
  }

  // ---- composer ----
  function randomKey() {
    const a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function send(ev) {
    if (ev) ev.preventDefault();
    const body = $('body').value;
    if (!body.trim()) return;
    const to = $('to').value;
    const req = { to, body, key: randomKey() };
    if (P.takesOnBusy(to)) req.on_busy = $('on-busy').value;
    $('send').disabled = true;
    $('compose-note').textContent = 'sending…';
    try {
      const r = await api('/ui/api/send', { method: 'POST', body: JSON.stringify(req) });
      $('body').value = '';
      $('compose-note').textContent = 'stored ' + r.results.map((x) => x.message_id + ' (' + x.state + ')').join(', ');
    } catch (e) {
      $('compose-note').textContent = 'not sent: ' + e.message;
    } finally {
      $('send').disabled = false;
      $('body').focus();
    }
  }

  // ---- search ----
  async function search(ev) {
    if (ev) ev.preventDefault();
    const q = $('q').value.trim();
    const panel = $('results');
    const out = $('results-list');
    out.textContent = '';
    if (!q) { panel.hidden = true; return; }
    panel.hidden = false;
    try {
      const r = await api('/ui/api/search?limit=50&q=' + encodeURIComponent(q));
      $('results-title').textContent = r.messages.length + ' result' + (r.messages.length === 1 ? '' : 's') +
        ' for “' + q + '” (' + r.took_ms.toFixed(1) + ' ms)';
      for (const m of r.messages) {
        const node = messageNode(m);
        node.id = '';
        node.querySelector('.rcpts').remove();
        const jump = el('button', 'jump', 'Show in transcript');
        jump.type = 'button';
        jump.addEventListener('click', () => jumpTo(m.id));
        node.appendChild(jump);
        out.appendChild(node);
      }
    } catch (e) {
      $('results-title').textContent = 'Search failed: ' + e.message;
    }
  }

  function jumpTo(id) {
    const rec = S.msgs.get(id);
    if (!rec) {
      $('results-title').textContent = 'That message is further back: scroll up to load it.';
      return;
    }
    rec.el.scrollIntoView({ block: 'center' });
    rec.el.classList.add('flash');
    setTimeout(() => rec.el.classList.remove('flash'), 1500);
  }

  // ---- keyboard ----
  document.addEventListener('keydown', (e) => {
    const typing = /^(TEXTAREA|INPUT|SELECT)$/.test(document.activeElement.tagName);
    if (e.key === '/' && !typing) { e.preventDefault(); $('q').focus(); }
    else if (e.key === 'Escape') { $('results').hidden = true; }
    else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && document.activeElement === $('body')) send(e);
  });

  async function start() {
    $('composer').addEventListener('submit', send);
    $('to').addEventListener('change', P.syncPolicy);
    $('search').addEventListener('submit', search);
    $('close-results').addEventListener('click', () => { $('results').hidden = true; });
    $('logout').addEventListener('click', async () => {
      try { await api('/ui/api/logout', { method: 'POST', body: '{}' }); } catch (_) { /* shown */ }
      if (S.es) S.es.close();
      banner('Logged out. Run `abg ui` to log in again.');
    });
    try {
      const s = await api('/ui/api/session');
      S.csrf = s.csrf;
      $('pair').textContent = 'abg · ' + s.pair_name;
      approvals.setPair(s.pair_name);
      setStatus(await api('/ui/api/status')); // the peers, before any message
      const page = await api('/ui/api/messages?limit=50');
      S.cursor = page.cursor.m + '.' + page.cursor.d + '.' + page.cursor.e;
      page.messages.forEach(addMessage);
      S.hasMore = page.has_more;
      if (S.oldestSeq === null) S.hasMore = false;
      const evs = await api('/ui/api/events?limit=100&before=' + (page.cursor.e + 1));
      const since = page.messages.length && S.hasMore ? page.messages[0].created_ms : -Infinity;
      evs.events.filter((e) => e.ts_ms >= since).forEach(addEvent);
      $('older').textContent = S.hasMore ? 'Scroll up for older messages' : 'Start of the conversation';
      toBottom();
      await approvals.load();
      connect();
      new IntersectionObserver((entries) => {
        if (entries.some((x) => x.isIntersecting)) loadOlder();
      }, { root: scroller }).observe($('older'));
      document.body.dataset.ready = 'true';
    } catch (e) {
      if (e.message !== 'unauthorized') banner('Cannot load the transcript: ' + e.message);
    }
  }

  start();
})();
