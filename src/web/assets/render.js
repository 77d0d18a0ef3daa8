// abg web UI: safe Markdown rendering of agent text.
//
// Agent text is never parsed as HTML: every node is built with
// createElement and filled with textContent, so tags, entities and event
// handlers in the text stay inert characters. The subset: fenced code
// blocks (with light highlighting), headings, lists, quotes, paragraphs,
// inline code, bold, italic, and links whose URL is http(s) only.
'use strict';

(function () {
  const MAX_INLINE = 20000; // longer paragraphs are shown as plain text
  const MAX_HIGHLIGHT = 50000; // longer code blocks are not highlighted
  const LOOKAHEAD = 1000; // how far an inline closing delimiter is searched

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function safeUrl(raw) {
    if (!/^https?:\/\/[^\s<>"'`]+$/i.test(raw)) return null;
    try {
      const u = new URL(raw);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  function link(href, text) {
    const a = el('a', null, text);
    a.href = href;
    a.rel = 'noopener noreferrer nofollow';
    a.target = '_blank';
    return a;
  }

  // Find `delim` after position `from`, within the lookahead window.
  function closing(text, delim, from) {
    const i = text.slice(from, from + LOOKAHEAD).indexOf(delim);
    return i < 0 ? -1 : from + i;
  }

  // Inline spans of one paragraph into `parent`.
  function inline(text, parent, depth) {
    if (text.length > MAX_INLINE || depth > 3) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    let buf = '';
    const flush = () => {
      if (buf) parent.appendChild(document.createTextNode(buf));
      buf = '';
    };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '_' && i > 0 && /\w/.test(text[i - 1])) {
        // snake_case and __dunder__ words are not emphasis.
        while (text[i] === '_') { buf += '_'; i += 1; }
        continue;
      }
      if (c === '`') {
        const end = closing(text, '`', i + 1);
        if (end > i + 1) {
          flush();
          parent.appendChild(el('code', 'inline', text.slice(i + 1, end)));
          i = end + 1;
          continue;
        }
      } else if ((c === '*' || c === '_') && text[i + 1] === c) {
        const end = closing(text, c + c, i + 2);
        if (end > i + 2 && (c === '*' || !/\w/.test(text[end + 2] || ''))) {
          flush();
          const b = el('strong');
          inline(text.slice(i + 2, end), b, depth + 1);
          parent.appendChild(b);
          i = end + 2;
          continue;
        }
      } else if ((c === '*' || c === '_') && text[i + 1] && !/\s/.test(text[i + 1]) &&
                 (i === 0 || !/\w/.test(text[i - 1]))) {
        const end = closing(text, c, i + 1);
        if (end > i + 1 && !/\s/.test(text[end - 1]) && (c === '*' || !/\w/.test(text[end + 1] || ''))) {
          flush();
          const em = el('em');
          inline(text.slice(i + 1, end), em, depth + 1);
          parent.appendChild(em);
          i = end + 1;
          continue;
        }
      } else if (c === '[') {
        const mid = closing(text, '](', i + 1);
        const end = mid > 0 ? closing(text, ')', mid + 2) : -1;
        const href = end > 0 ? safeUrl(text.slice(mid + 2, end)) : null;
        if (href) {
          flush();
          parent.appendChild(link(href, text.slice(i + 1, mid)));
          i = end + 1;
          continue;
        }
      } else if ((c === 'h' || c === 'H') && /^https?:\/\//i.test(text.slice(i, i + 8))) {
        const m = /^https?:\/\/[^\s<>"'`]+/i.exec(text.slice(i, i + 2048));
        let raw = m ? m[0] : '';
        raw = raw.replace(/[.,;:!?)\]]+$/, '');
        const href = raw ? safeUrl(raw) : null;
        if (href) {
          flush();
          parent.appendChild(link(href, raw));
          i += raw.length;
          continue;
        }
      }
      buf += c;
      i += 1;
    }
    flush();
  }

  const KEYWORDS = new Set((
    'as async await break case catch class const continue def default defer do elif else enum ' +
    'export extends false fn for from func function go if impl import in interface is let loop ' +
    'match mod move mut new nil None null pass pub raise return self Self static struct super ' +
    'switch then throw trait true True False try type typeof use var where while with yield'
  ).split(' '));
  const HASH_COMMENTS = new Set(['sh', 'bash', 'zsh', 'shell', 'console', 'py', 'python', 'toml',
    'yaml', 'yml', 'rb', 'ruby', 'make', 'makefile', 'dockerfile', 'conf', 'ini']);

  // Light syntax colouring: comments, strings, numbers, keywords.
  function highlight(code, lang, parent) {
    if (code.length > MAX_HIGHLIGHT) {
      parent.textContent = code;
      return;
    }
    const hash = HASH_COMMENTS.has(lang) ? '|#[^\\n]*' : '';
    const re = new RegExp(
      '(\\/\\/[^\\n]*|\\/\\*[\\s\\S]*?\\*\\/' + hash + ')' +
      '|("(?:[^"\\\\\\n]|\\\\.)*"|\'(?:[^\'\\\\\\n]|\\\\.)*\')' +
      '|\\b(\\d[\\d_]*(?:\\.\\d+)?)\\b' +
      '|\\b([A-Za-z_][A-Za-z0-9_]*)\\b', 'g');
    let last = 0;
    let m;
    while ((m = re.exec(code)) !== null) {
      let cls = null;
      if (m[1]) cls = 'tok-comment';
      else if (m[2]) cls = 'tok-string';
      else if (m[3]) cls = 'tok-number';
      else if (m[4] && KEYWORDS.has(m[4])) cls = 'tok-keyword';
      if (!cls) continue;
      if (m.index > last) parent.appendChild(document.createTextNode(code.slice(last, m.index)));
      parent.appendChild(el('span', cls, m[0]));
      last = m.index + m[0].length;
    }
    if (last < code.length) parent.appendChild(document.createTextNode(code.slice(last)));
  }

  function codeBlock(lines, lang) {
    const pre = el('pre', 'code');
    const code = el('code');
    if (lang) {
      code.dataset.lang = lang;
      pre.appendChild(el('span', 'lang', lang));
    }
    highlight(lines.join('\n'), lang.toLowerCase(), code);
    pre.appendChild(code);
    return pre;
  }

  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
  const LIST = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const HEADING = /^\s{0,3}(#{1,6})\s+(.*)$/;

  // Render Markdown `text` into a DocumentFragment.
  function markdown(text) {
    const out = document.createDocumentFragment();
    const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
    let para = [];
    let list = null;
    const endPara = () => {
      if (para.length) {
        const p = el('p');
        inline(para.join('\n'), p, 0);
        out.appendChild(p);
        para = [];
      }
    };
    const endList = () => {
      list = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = FENCE.exec(line);
      if (fence) {
        endPara();
        endList();
        const mark = fence[1];
        const body = [];
        i += 1;
        while (i < lines.length) {
          const t = lines[i].trim();
          if (t.startsWith(mark[0].repeat(mark.length)) && /^[`~]+$/.test(t)) break;
          body.push(lines[i]);
          i += 1;
        }
        out.appendChild(codeBlock(body, fence[2] || ''));
        continue;
      }
      if (!line.trim()) {
        endPara();
        endList();
        continue;
      }
      const h = HEADING.exec(line);
      if (h) {
        endPara();
        endList();
        const level = Math.min(6, h[1].length + 2);
        const e = el('h' + level, 'md-h');
        inline(h[2], e, 0);
        out.appendChild(e);
        continue;
      }
      const li = LIST.exec(line);
      if (li) {
        endPara();
        const ordered = /\d/.test(li[1]);
        if (!list || list.ordered !== ordered) {
          list = { ordered, node: el(ordered ? 'ol' : 'ul') };
          out.appendChild(list.node);
        }
        const item = el('li');
        inline(li[2], item, 0);
        list.node.appendChild(item);
        continue;
      }
      if (/^\s{0,3}>/.test(line)) {
        endPara();
        endList();
        const q = el('blockquote');
        inline(line.replace(/^\s{0,3}>\s?/, ''), q, 0);
        out.appendChild(q);
        continue;
      }
      if (list && /^\s{2,}\S/.test(line)) {
        const last = list.node.lastChild;
        last.appendChild(document.createTextNode('\n'));
        inline(line.trim(), last, 0);
        continue;
      }
      endList();
      para.push(line);
    }
    endPara();
    return out;
  }

  // Plain text (no Markdown) for very large bodies.
  function plain(text) {
    return el('pre', 'plain', text);
  }

  window.AbgRender = { markdown, plain, safeUrl };
})();
