// abg web UI: the pair's peers as the daemon registers them, read from
// its status (/ui/api/status and the stream's `status` events), never
// named here. Each peer keeps, by its registration order, a palette slot
// (app.css `.pal-0` …) and a side of the transcript (alternating, first
// on the left), so the first two registered (Claude, Codex) look as they
// always did. Also the status bar (one chip per peer) and the composer's
// recipients (every peer, then "all"; `on_busy` only where a peer runs
// turns, i.e. its delivery model is `turn`).
'use strict';

(function () {
  const SLOTS = 4; // palette entries in app.css
  const FIXED = { human: 'You', abg: 'abg', all: 'all' };
  let peers = []; // as the daemon lists them: { id, name, model, attached, queued, view }
  const byId = new Map(); // id -> { index, peer }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function index(id) {
    const p = byId.get(id);
    return p ? p.index : -1;
  }

  // The name people read.
  function name(id) {
    const p = byId.get(id);
    return p ? p.peer.name : FIXED[id] || id;
  }

  // Where a sender's messages sit: `human` centred, peers alternating
  // left/right by registration order, anyone else (abg) as a notice.
  function side(id) {
    if (id === 'human') return 'human';
    const i = index(id);
    if (i < 0) return 'notice';
    return i % 2 === 0 ? 'left' : 'right';
  }

  // The palette class of a peer ('' for anyone else).
  function palette(id) {
    const i = index(id);
    return i < 0 ? '' : 'pal-' + (i % SLOTS);
  }

  // Sort key of a recipient: registration order, unknown ids last.
  function order(id) {
    const i = index(id);
    return i < 0 ? 1e9 : i;
  }

  // Whether `to` (a peer id or `all`) takes a busy policy.
  function takesOnBusy(to) {
    if (to === 'all') return peers.some((p) => p.model === 'turn');
    const p = byId.get(to);
    return !!p && p.peer.model === 'turn';
  }

  // ---- status bar ----
  function words(p) {
    const w = [p.attached ? 'attached' : 'detached'];
    const v = p.view || {};
    if (p.attached && typeof v.busy === 'boolean') w.push(v.busy ? 'busy' : 'idle');
    if (typeof v.channel === 'boolean') w.push(v.channel ? 'channel live' : 'fallback');
    w.push(p.queued + ' queued');
    return w.join(' · ');
  }

  function chips() {
    const box = document.getElementById('st-peers');
    const keep = new Set();
    for (const p of peers) {
      const id = 'st-' + p.id;
      keep.add(id);
      let pill = document.getElementById(id);
      if (!pill) pill = el('span');
      pill.id = id;
      pill.className = 'pill peer ' + palette(p.id);
      pill.textContent = p.name + ': ' + words(p);
      Object.assign(pill.dataset, { on: String(p.attached), peer: p.id, queued: String(p.queued) });
      box.appendChild(pill); // appending an existing child moves it: daemon order
    }
    for (const pill of [...box.children]) if (!keep.has(pill.id)) pill.remove();
  }

  // ---- composer ----
  // The recipients: every peer in order, then "all". The first time (or
  // when the choice is gone) the first peer that runs turns is chosen.
  function targets() {
    const to = document.getElementById('to');
    const want = peers.map((p) => p.id).concat(peers.length > 1 ? ['all'] : []);
    const have = [...to.options].map((o) => o.value);
    if (want.join(' ') !== have.join(' ')) {
      const was = to.value;
      to.textContent = '';
      for (const id of want) {
        const o = el('option', null, id === 'all' ? 'All (' + peers.length + ')' : name(id));
        o.value = id;
        to.appendChild(o);
      }
      const first = peers.find((p) => p.model === 'turn') || peers[0];
      to.value = want.includes(was) ? was : first ? first.id : '';
    }
    syncPolicy();
  }

  function syncPolicy() {
    const to = document.getElementById('to').value;
    const on = takesOnBusy(to);
    document.getElementById('on-busy').disabled = !on;
    const turners = peers.filter((p) => p.model === 'turn').map((p) => p.name);
    const who = to === 'all' ? turners.join(' or ') : on ? name(to) : '';
    document.getElementById('on-busy-label').textContent = who
      ? 'If ' + who + ' is busy' : 'If busy (not for ' + name(to) + ')';
  }

  // Take the peers of a status (`/ui/api/status` or a stream event).
  function set(list) {
    peers = Array.isArray(list) ? list : [];
    byId.clear();
    peers.forEach((p, i) => byId.set(p.id, { index: i, peer: p }));
    chips();
    targets();
  }

  window.AbgPeers = { set, name, side, palette, order, takesOnBusy, syncPolicy,
    known: (id) => byId.has(id), ids: () => peers.map((p) => p.id) };
})();
