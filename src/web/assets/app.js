// abg web UI: the live transcript, status bar, composer, history, search
// (the approvals panel is approvals.js, fed from here).
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
  const NAMES = { claude: 'Claude', codex: 'Codex', human: 'You', abg: 'abg' };

  const S = {
    csrf: null,
    cursor: null,
    msgs: new Map(), // id -> { el, data, logSeq }
    pending: new Map(), // message id -> newest delivery entry not yet placed
    events: new Set(),
    oldestSeq: null,
    oldestEventSeq: null,
    hasMore: true,
    loadingOlder: false,
    es: null,
    retry: null,
  };

  const $ = (id) => document.getElementById(id);
  const approvals = window.AbgApprovals((path, opts) => api(path, opts));
  const list = $('items');
  const scroller = $('transcript');

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

  // ---- placing items in order (time, then kind, then seq) ----
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
    while (n && before(k, keyOf(n))) n = n.previousElementSibling;
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
  // free-text detail follows it in the badge's tooltip.
  function setState(rec, state, detail, reason) {
    const badge = rec.el.querySelector('.state');
    rec.el.dataset.state = state || '';
    rec.el.dataset.reason = reason || '';
    badge.textContent = state || '—';
    badge.className = 'state st-' + (state || 'none');
    const why = reason ? reason.replace(/_/g, ' ') : '';
    badge.title = why && detail ? why + ' — ' + detail : why || detail || '';
  }

  function messageNode(m) {
    const side = m.from === 'claude' ? 'left' : m.from === 'codex' ? 'right' : m.from === 'human' ? 'human' : 'notice';
    const art = el('article', 'msg side-' + side + (m.kind === 'notice' ? ' notice' : ''));
    art.id = 'm-' + m.id;
    Object.assign(art.dataset, { id: m.id, from: m.from, to: m.to, side, ts: m.created_ms, rank: 1, seq: m.seq });
    const head = el('header');
    head.appendChild(el('span', 'who', (NAMES[m.from] || m.from) + ' → ' + (NAMES[m.to] || m.to)));
    if (m.on_busy) head.appendChild(el('span', 'policy', m.on_busy));
    const t = el('time', null, time(m.created_ms));
    t.dateTime = new Date(m.created_ms).toISOString();
    head.appendChild(t);
    head.appendChild(el('span', 'seq', '#' + m.seq));
    head.appendChild(el('span', 'state'));
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

  function addMessage(m) {
    const known = S.msgs.get(m.id);
    if (known) {
      if (m.state && known.logSeq === 0) setState(known, m.state, m.detail, m.reason);
      return;
    }
    const rec = { el: messageNode(m), data: m, logSeq: 0 };
    S.msgs.set(m.id, rec);
    setState(rec, m.state, m.detail, m.reason);
    const stick = nearBottom();
    place(rec.el);
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

  // ---- events ----
  function eventSummary(ev) {
    const d = ev.data || {};
    const bits = ['command', 'path', 'file', 'reason', 'turn_id', 'status', 'message']
      .filter((k) => typeof d[k] === 'string' || typeof d[k] === 'number')
      .map((k) => String(d[k]).slice(0, 120));
    return ev.kind + (bits.length ? ' · ' + bits.join(' · ') : '');
  }

  function addEvent(ev) {
    if (S.events.has(ev.seq)) return;
    S.events.add(ev.seq);
    if (S.oldestEventSeq === null || ev.seq < S.oldestEventSeq) S.oldestEventSeq = ev.seq;
    const det = el('details', 'event');
    Object.assign(det.dataset, { ts: ev.ts_ms, rank: 0, seq: ev.seq, kind: ev.kind });
    const sum = el('summary');
    sum.appendChild(el('span', 'ev-kind', eventSummary(ev)));
    sum.appendChild(el('time', null, time(ev.ts_ms)));
    det.appendChild(sum);
    det.appendChild(el('pre', 'ev-data', JSON.stringify(ev.data, null, 2).slice(0, 20000)));
    const stick = nearBottom();
    place(det);
    if (stick) toBottom();
  }

  // ---- status bar ----
  // One pill per peer, in the daemon's order; what each shows beyond
  // attached/detached comes from what the peer publishes (its `view`).
  function peerWords(p) {
    const words = [p.attached ? 'attached' : 'detached'];
    const v = p.view || {};
    if (p.attached && typeof v.busy === 'boolean') words.push(v.busy ? 'busy' : 'idle');
    if (typeof v.channel === 'boolean') words.push(v.channel ? 'channel live' : 'fallback');
    return words.join(' · ');
  }

  function setStatus(s) {
    const box = $('st-peers');
    const peers = s.peers || [];
    approvals.setNames(peers);
    for (const p of peers) {
      let pill = document.getElementById('st-' + p.id);
      if (!pill) {
        pill = el('span', 'pill who-' + p.id);
        pill.id = 'st-' + p.id;
        box.appendChild(pill);
      }
      pill.textContent = p.name + ': ' + peerWords(p);
      pill.dataset.on = String(p.attached);
    }
    $('st-queues').textContent = 'queued ' +
      peers.map((p) => '→ ' + p.name + ' ' + p.queued).join(' · ');
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
      if (S.oldestEventSeq !== null && S.oldestEventSeq > 1) {
        const evs = await api('/ui/api/events?limit=100&before=' + S.oldestEventSeq);
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
    if (to !== 'claude') req.on_busy = $('on-busy').value;
    $('send').disabled = true;
    $('compose-note').textContent = 'sending…';
    try {
      const r = await api('/ui/api/send', { method: 'POST', body: JSON.stringify(req) });
      $('body').value = '';
      $('compose-note').textContent = r.results.map((x) => 'stored ' + x.message_id + ' (' + x.state + ')').join(', ');
    } catch (e) {
      $('compose-note').textContent = 'not sent: ' + e.message;
    } finally {
      $('send').disabled = false;
      $('body').focus();
    }
  }

  function syncPolicy() {
    $('on-busy').disabled = $('to').value === 'claude';
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
        node.querySelector('.state').remove();
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
    $('to').addEventListener('change', syncPolicy);
    $('search').addEventListener('submit', search);
    $('close-results').addEventListener('click', () => { $('results').hidden = true; });
    $('logout').addEventListener('click', async () => {
      try { await api('/ui/api/logout', { method: 'POST', body: '{}' }); } catch (_) { /* shown */ }
      if (S.es) S.es.close();
      banner('Logged out. Run `abg ui` to log in again.');
    });
    syncPolicy();
    try {
      const s = await api('/ui/api/session');
      S.csrf = s.csrf;
      $('pair').textContent = 'abg · ' + s.pair_name;
      approvals.setPair(s.pair_name);
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
      setStatus(await api('/ui/api/status'));
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
