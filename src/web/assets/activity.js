// abg web UI: the pair's events in the transcript, folded. Each event is
// a row (its kind and a few fields; its JSON on expanding it) placed by
// time among the messages like before, but every run of consecutive rows
// sits behind one quiet activity line ("3 events · 1 approval · Codex
// turn completed"): a button (aria-expanded) that shows or hides the run.
// Approval events are counted on the line so they stay auditable.
// Everything is textContent: event data never becomes markup.
'use strict';

(function () {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  // `codex.turn.completed` -> "Codex turn completed" (a leading peer id
  // said as its name; dots and underscores as spaces).
  function said(kind) {
    const parts = String(kind).split('.');
    const P = window.AbgPeers;
    const head = parts.length > 1 && P.known(parts[0]) ? P.name(parts.shift()) + ' ' : '';
    return head + parts.join(' ').replace(/_/g, ' ');
  }

  function summary(ev) {
    const d = ev.data || {};
    const bits = ['command', 'path', 'file', 'reason', 'turn_id', 'status', 'message']
      .filter((k) => typeof d[k] === 'string' || typeof d[k] === 'number')
      .map((k) => String(d[k]).slice(0, 120));
    return ev.kind + (bits.length ? ' · ' + bits.join(' · ') : '');
  }

  // `list`: the transcript's item list; `place(node)`: put a node there in
  // order (it passes over activity lines).
  window.AbgActivity = function (list, place) {
    const seen = new Set();
    let oldest = null;

    function row(ev) {
      const det = el('details', 'event');
      det.id = 'ev-' + ev.seq;
      Object.assign(det.dataset, { ts: ev.ts_ms, rank: 0, seq: ev.seq, kind: ev.kind, open: 'false' });
      const sum = el('summary');
      sum.appendChild(el('span', 'ev-kind', summary(ev)));
      sum.appendChild(el('time', null, time(ev.ts_ms)));
      det.appendChild(sum);
      det.appendChild(el('pre', 'ev-data', JSON.stringify(ev.data, null, 2).slice(0, 20000)));
      return det;
    }

    function line() {
      const box = el('div', 'activity');
      const btn = el('button', 'activity-toggle');
      btn.type = 'button';
      btn.setAttribute('aria-expanded', 'false');
      btn.addEventListener('click', () => {
        const open = btn.getAttribute('aria-expanded') !== 'true';
        for (let n = box.nextElementSibling; n && n.classList.contains('event'); n = n.nextElementSibling) {
          n.dataset.open = String(open);
        }
        fold();
      });
      box.appendChild(btn);
      return box;
    }

    function describe(box, run) {
      const open = run.some((n) => n.dataset.open === 'true');
      const approvals = run.filter((n) => n.dataset.kind.startsWith('approval.')).length;
      const words = [run.length + (run.length === 1 ? ' event' : ' events')];
      if (approvals) words.push(approvals + (approvals === 1 ? ' approval' : ' approvals'));
      words.push(said(run[run.length - 1].dataset.kind));
      const btn = box.firstElementChild;
      btn.textContent = (open ? '▾ ' : '▸ ') + words.join(' · ');
      btn.setAttribute('aria-expanded', String(open));
      btn.setAttribute('aria-controls', run.map((n) => n.id).join(' '));
      box.dataset.count = String(run.length);
      box.dataset.approvals = String(approvals);
      box.classList.toggle('has-approvals', approvals > 0);
      for (const n of run) {
        n.hidden = !open;
        n.dataset.open = String(open);
      }
    }

    // Give every run of consecutive event rows one activity line right
    // before it, reusing the line already there (it may have focus).
    function fold() {
      const runs = [];
      const lines = [];
      let run = null;
      for (const n of list.children) {
        if (n.classList.contains('activity')) { lines.push(n); continue; }
        if (n.classList.contains('event')) {
          if (!run) { run = []; runs.push(run); }
          run.push(n);
        } else {
          run = null;
        }
      }
      const keep = new Set();
      for (const r of runs) {
        let box = r[0].previousElementSibling;
        if (!box || !box.classList.contains('activity') || keep.has(box)) {
          box = line();
          list.insertBefore(box, r[0]);
        }
        keep.add(box);
        describe(box, r);
      }
      for (const n of lines) if (!keep.has(n)) n.remove();
    }

    // Add one event (once); false when it was already shown.
    function add(ev) {
      if (seen.has(ev.seq)) return false;
      seen.add(ev.seq);
      if (oldest === null || ev.seq < oldest) oldest = ev.seq;
      place(row(ev));
      fold();
      return true;
    }

    return { add, fold, oldest: () => oldest };
  };
})();
