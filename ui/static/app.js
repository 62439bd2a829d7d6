// Smart Card Manager page. Everything from a card or a server is put in
// the page as text (textContent), never as HTML.
'use strict';

const CSRF = document.querySelector('meta[name="csrf"]').content;
const HIDE_FORMAT = document.body.dataset.hideFormat === 'true';

const state = {
  cards: [],      // from the "cards" event
  ops: new Map(), // id -> operation, from "op" events
  panel: null,    // {mode: 'intro'|'op', op, reader, id}
  page: 'cards',
  pageArg: '',
  pendingEnroll: new URLSearchParams(location.search).get('enroll'),
};

// ---------- helpers ----------

function $(id) { return document.getElementById(id); }

// el builds an element; string children become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function show(node, on) { node.hidden = !on; }

function day(t) {
  if (!t) return '';
  return String(t).slice(0, 10);
}

function facts(dl, rows) {
  clear(dl);
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(el('dt', {text: k}), el('dd', {text: String(v)}));
  }
}

async function api(method, path, body) {
  const opts = {method, headers: {}, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CoolKey-CSRF'] = CSRF;
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch (e) { data = null; }
  }
  if (!r.ok) throw new Error((data && data.error) || ('HTTP ' + r.status));
  return data;
}

function message(node, text, kind) {
  node.textContent = text;
  node.className = 'message ' + (kind || '');
  node.hidden = !text;
}

const OP_NAMES = {'enroll': 'Enroll', 'format': 'Format', 'reset-pin': 'Reset PIN'};
const OP_ING = {'enroll': 'Enrolling', 'format': 'Formatting', 'reset-pin': 'Resetting the PIN of'};

function cardLabel(reader) {
  const c = state.cards.find(x => x.reader === reader);
  return c && c.cuid ? 'card ' + c.cuid + ' in ' + reader : 'the card in ' + reader;
}

// ---------- live updates ----------

function connect() {
  const es = new EventSource('/api/events');
  const conn = $('conn');
  es.onopen = () => { conn.dataset.state = 'live'; conn.textContent = 'Live'; };
  es.onerror = () => { conn.dataset.state = 'lost'; conn.textContent = 'Reconnecting…'; };
  es.addEventListener('cards', ev => {
    state.cards = JSON.parse(ev.data) || [];
    renderCards();
    if (state.page === 'certs') renderCerts();
    maybeOpenPendingEnroll();
  });
  es.addEventListener('op', ev => {
    const op = JSON.parse(ev.data);
    if (op.removed) state.ops.delete(op.id);
    else state.ops.set(op.id, op);
    if (!state.panel && !op.removed && op.state !== 'done') {
      // An operation started elsewhere (another tab, before a reload).
      state.panel = {mode: 'op', id: op.id, op: op.op, reader: op.reader};
    }
    renderPanel();
    renderCards();
  });
}

// ---------- cards page ----------

const STATUS_CLASS = {ENROLLED: 'ok', UNINITIALIZED: 'warn', NO_APPLET: 'off', BUSY: 'busy', UNKNOWN: 'bad'};

function busyReader(reader) {
  for (const op of state.ops.values()) if (op.reader === reader && op.state !== 'done') return true;
  return false;
}

function actionButton(action, label, card, enabled) {
  return el('button', {type: 'button', 'data-action': action, 'data-reader': card.reader, disabled: !enabled,
    onclick: () => act(action, card.reader)}, label);
}

function renderCards() {
  const body = $('cards').tBodies[0];
  clear(body);
  const present = state.cards.filter(c => c.status !== 'NO_CARD');
  const empty = state.cards.filter(c => c.status === 'NO_CARD').map(c => c.reader);
  for (const c of present) {
    const busy = c.status === 'BUSY' || busyReader(c.reader);
    const st = busy ? 'BUSY' : c.status;
    const enrolled = c.status === 'ENROLLED';
    const tr = el('tr', {'data-reader': c.reader, 'data-status': st},
      el('td', {text: c.reader}),
      el('td', {class: 'mono nowrap', text: c.cuid || '—'}),
      el('td', {text: c.issuer || '—'}),
      el('td', {}, el('span', {class: 'badge ' + (STATUS_CLASS[st] || 'bad'), 'data-role': 'status', text: st}),
        st === 'NO_APPLET' || st === 'UNINITIALIZED' ? el('div', {class: 'status-text', text: c.statusText}) : null),
      el('td', {class: 'mono', text: c.appletVersion || '—'}),
      el('td', {class: 'num', text: c.status === 'ENROLLED' ? String(c.certificates.length) : '—'}),
      el('td', {class: 'actions'},
        actionButton('enroll', 'Enroll', c, !busy && c.status !== 'UNKNOWN'),
        actionButton('reset-pin', 'Reset PIN', c, !busy && enrolled),
        HIDE_FORMAT ? null : actionButton('format', 'Format', c, !busy),
        actionButton('certs', 'Certificates', c, c.certificates.length > 0),
        actionButton('phonehome', 'Phone home', c, !busy && !!c.cuid)));
    if (c.error) tr.title = c.error;
    body.append(tr);
  }
  show($('cards'), present.length > 0);
  show($('no-cards'), present.length === 0);
  $('empty-readers').textContent = empty.length ? 'Readers without a card: ' + empty.join(', ') : '';
}

function act(action, reader) {
  if (action === 'certs') { location.hash = '#/certs/' + encodeURIComponent(reader); return; }
  if (action === 'phonehome') { location.hash = '#/phonehome/' + encodeURIComponent(reader); return; }
  openIntro(action, reader);
}

function maybeOpenPendingEnroll() {
  const r = state.pendingEnroll;
  if (!r || state.panel) return;
  const c = state.cards.find(x => x.reader === r && x.status !== 'NO_CARD');
  if (!c) return;
  state.pendingEnroll = null;
  history.replaceState(null, '', location.pathname + location.hash);
  openIntro('enroll', r);
}

// ---------- certificates page ----------

function renderCerts() {
  const reader = state.pageArg;
  const c = state.cards.find(x => x.reader === reader);
  const list = $('certs-list');
  clear(list);
  if (!c || c.status === 'NO_CARD') {
    $('certs-card').textContent = 'The card in ' + reader + ' is gone.';
    return;
  }
  $('certs-card').textContent = (c.tokenName ? c.tokenName + ' — ' : '') + 'card ' + (c.cuid || '?') + ' in ' + reader;
  if (!c.certificates.length) list.append(el('p', {class: 'empty', text: 'No certificates on this card.'}));
  for (const cert of c.certificates) {
    const dl = el('dl', {class: 'facts'});
    facts(dl, [
      ['Subject', cert.subject], ['Issuer', cert.issuer], ['Serial number', cert.serial],
      ['Valid from', day(cert.notBefore)], ['Valid until', day(cert.notAfter)],
      ['SHA-256 fingerprint', cert.sha256], ['SHA-1 fingerprint', cert.sha1], ['Object', cert.id],
    ]);
    const href = '/api/certificate?' + new URLSearchParams({reader: reader, id: cert.id}).toString();
    list.append(el('article', {class: 'cert', 'data-cert': cert.id},
      el('h3', {text: cert.label || cert.subject}), dl,
      el('a', {class: 'button', href: href, download: (c.cuid || 'card') + '-' + cert.id + '.pem', 'data-action': 'pem'}, 'Download PEM')));
  }
}

// ---------- phone home page ----------

async function loadPhoneHome() {
  const reader = state.pageArg;
  message($('ph-message'), '');
  try {
    const v = await api('GET', '/api/phonehome?' + new URLSearchParams({reader}).toString());
    renderPhoneHome(v);
    const input = $('ph-url');
    input.value = (v.cached && v.cached.url) || v.cardURL || '';
  } catch (e) {
    facts($('ph-info'), [['Reader', reader]]);
    clear($('ph-cached'));
    message($('ph-message'), e.message, 'error');
  }
}

function renderPhoneHome(v) {
  facts($('ph-info'), [
    ['Reader', v.reader], ['Card ID', v.cuid],
    ['URL on the card', v.cardURL || '(none)'],
    ['Global fallback URL', v.globalPhoneHomeURL],
    ['Configured TPS (wins over phone home)', v.tpsURL],
  ]);
  const box = $('ph-cached');
  clear(box);
  if (!v.cached) { box.append(el('p', {class: 'empty', text: 'This card has not phoned home yet.'})); return; }
  const dl = el('dl', {class: 'facts', id: 'ph-cached-facts'});
  const rows = [['Issuer', v.cached.issuer], ['URL', v.cached.url + (v.cached.urlFromUser ? ' (given by you)' : '')],
    ['Fetched', String(v.cached.fetched).replace('T', ' ').slice(0, 19)]];
  for (const s of v.cached.services) rows.push([s.name, s.value]);
  facts(dl, rows);
  box.append(dl);
}

async function phoneHomeNow(url) {
  const btns = [$('ph-test'), $('ph-set')];
  btns.forEach(b => b.disabled = true);
  message($('ph-message'), 'Phoning home…', 'info');
  try {
    const v = await api('POST', '/api/phonehome', {reader: state.pageArg, url: url});
    renderPhoneHome(v);
    const op = v.cached && v.cached.services.find(s => s.name === 'Operation');
    message($('ph-message'), 'Phone home succeeded: issuer ' + v.cached.issuer + (op ? ', TPS ' + op.value : ', but it named no TPS') + '.', 'ok');
  } catch (e) {
    message($('ph-message'), 'Phone home failed: ' + e.message, 'error');
  } finally {
    btns.forEach(b => b.disabled = false);
  }
}

// ---------- diagnostics page ----------

async function loadDiagnostics() {
  try {
    const d = await api('GET', '/api/diagnostics');
    facts($('diag-client'), [
      ['Version', 'coolkey ' + d.version + ' (' + d.goVersion + ')'], ['System', d.os],
      ['Readers', d.readers], ['Cards', d.cardCount],
      ['Configuration', d.configFile], ['Trusted CAs', d.trustFile], ['Log', d.logFile],
      ['Configured TPS', d.tpsURL], ['Global phone-home URL', d.globalPhoneHomeURL],
      ['Token type', d.tokenType], ['TPS message timeout', d.messageTimeout],
      ['Format', d.hideFormat ? 'hidden by configuration' : 'available'],
    ]);
    const box = $('diag-cards');
    clear(box);
    if (!d.cards.length) box.append(el('p', {class: 'empty', text: 'No card.'}));
    for (const c of d.cards) {
      const dl = el('dl', {class: 'facts'});
      const rows = [['Reader', c.reader], ['Card ID', c.cuid], ['Status', c.status + ' (' + c.statusText + ')'],
        ['Applet version', c.appletVersion], ['Protocol version', c.protocolVersion], ['Life cycle', c.lifeCycle],
        ['ATR', c.atr], ['Token name', c.tokenName], ['Phone-home URL', c.phoneHomeURL], ['Issuer', c.issuer],
        ['TPS URL', c.tpsURL], ['Enrollment UI URL', c.enrollmentUIURL], ['Error', c.error]];
      for (const cert of c.certificates) rows.push(['Certificate ' + cert.id, cert.subject + ' (until ' + day(cert.notAfter) + ')']);
      facts(dl, rows);
      box.append(el('article', {class: 'card-diag', 'data-reader': c.reader}, dl));
    }
    const log = $('diag-log');
    log.textContent = d.log.length ? d.log.join('\n') : (d.logError || '(empty)');
    log.scrollTop = log.scrollHeight;
  } catch (e) {
    $('diag-log').textContent = 'Cannot load the diagnostics: ' + e.message;
  }
}

// ---------- trust page ----------

async function loadTrust() {
  try {
    const t = await api('GET', '/api/trust');
    const body = $('trust-list').tBodies[0];
    clear(body);
    for (const c of t.certs) {
      body.append(el('tr', {},
        el('td', {text: c.subject}), el('td', {text: day(c.notAfter)}),
        el('td', {text: c.isCA ? 'CA' : 'server certificate'}), el('td', {class: 'mono small', text: c.sha256})));
    }
    show($('trust-list'), t.certs.length > 0);
    show($('trust-empty'), t.certs.length === 0);
    $('trust-file-path').textContent = t.file;
  } catch (e) {
    message($('trust-message'), e.message, 'error');
  }
}

async function addTrust(ev) {
  ev.preventDefault();
  let pem = $('trust-pem').value;
  const f = $('trust-file').files[0];
  if (f) {
    if (f.size > 256 * 1024) { message($('trust-message'), 'That file is too large for a CA chain.', 'error'); return; }
    pem = await f.text();
  }
  if (!pem.trim()) { message($('trust-message'), 'Choose a PEM file or paste the certificate.', 'error'); return; }
  try {
    const r = await api('POST', '/api/trust', {pem});
    if (!r.added.length) message($('trust-message'), 'Already trusted; nothing added.', 'info');
    else message($('trust-message'), 'Added: ' + r.added.map(c => c.subject).join('; '), 'ok');
    $('trust-form').reset();
    loadTrust();
  } catch (e) {
    message($('trust-message'), e.message, 'error');
  }
}

// ---------- operation panel ----------

function openIntro(op, reader) {
  state.panel = {mode: 'intro', op, reader};
  $('op-token-type').value = '';
  $('op-start-error').hidden = true;
  renderPanel();
}

function closePanel() {
  const p = state.panel;
  state.panel = null;
  if (p && p.mode === 'op') {
    const op = state.ops.get(p.id);
    if (op && op.state === 'done') api('POST', '/api/ops/' + p.id + '/dismiss', {}).catch(() => {});
  }
  renderPanel();
}

async function startOp() {
  const p = state.panel;
  const btn = $('op-start');
  btn.disabled = true;
  try {
    const r = await api('POST', '/api/ops', {op: p.op, reader: p.reader, tokenType: $('op-token-type').value.trim()});
    state.panel = {mode: 'op', id: r.id, op: p.op, reader: p.reader};
  } catch (e) {
    message($('op-start-error'), e.message, 'error');
  } finally {
    btn.disabled = false;
  }
  renderPanel();
}

function renderPanel() {
  const p = state.panel;
  show($('op-overlay'), !!p);
  if (!p) return;
  $('op-panel').dataset.op = p.op;
  $('op-subtitle').textContent = cardLabel(p.reader);
  const intro = p.mode === 'intro';
  show($('op-intro'), intro);
  if (intro) {
    $('op-panel').dataset.state = 'intro';
    $('op-title').textContent = OP_NAMES[p.op];
    const c = state.cards.find(x => x.reader === p.reader) || {};
    const texts = {
      'enroll': 'The server (TPS) will ask who you are and for a new PIN for the card, then generate keys on the card and issue your certificates. This takes a minute.',
      'reset-pin': 'The server (TPS) will ask who you are and for the card\'s new PIN.',
      'format': 'The server (TPS) will reinstall the card software.',
    };
    $('op-intro-text').textContent = texts[p.op];
    let warn = '';
    if (p.op === 'format') warn = 'Formatting erases every key and certificate on the card.';
    else if (p.op === 'enroll' && c.status === 'ENROLLED') warn = 'This card is already enrolled; enrolling it again may replace its keys and certificates.';
    $('op-warning').textContent = warn;
    show($('op-warning'), !!warn);
    show($('op-progress'), false);
    show($('op-form'), false);
    show($('op-result'), false);
    show($('op-cancel'), false);
    show($('op-close'), false);
    show($('op-footer'), false);
    return;
  }
  const op = state.ops.get(p.id);
  if (!op) return;
  $('op-panel').dataset.state = op.state;
  $('op-title').textContent = op.state === 'done' ? OP_NAMES[op.op] : OP_ING[op.op] + ' the card';
  show($('op-progress'), true);
  $('op-bar-fill').style.width = op.percent + '%';
  $('op-percent').textContent = op.percent + '%';
  const waiting = {login: 'Waiting for your credentials', pin: 'Waiting for the new PIN'}[op.state];
  $('op-task').textContent = waiting || (op.taskText ? op.taskText + ' (' + op.task + ')' : (op.state === 'done' ? '' : 'Contacting the server…'));
  const tasks = $('op-tasks');
  clear(tasks);
  for (const t of op.tasks) tasks.append(el('li', {}, el('span', {class: 'pct', text: t.percent + '%'}), ' ' + t.text, el('span', {class: 'mono small', text: ' ' + t.task})));
  renderForm(op);
  const done = op.state === 'done';
  show($('op-result'), done);
  if (done) {
    const r = op.result;
    const h = $('op-headline');
    h.textContent = r.headline;
    h.className = 'headline ' + (r.ok ? 'ok' : 'error');
    let detail = r.ok ? '' : r.message;
    if (!r.ok && r.statusName && !detail.includes(r.statusName)) detail += ' [' + r.status + ' ' + r.statusName + ']';
    $('op-detail').textContent = detail;
    const hints = $('op-hints');
    clear(hints);
    if (r.hint === 'phonehome') hints.append(el('button', {type: 'button', onclick: () => { closePanel(); location.hash = '#/phonehome/' + encodeURIComponent(op.reader); }}, 'Phone-home settings'));
    if (r.hint === 'trust') hints.append(el('button', {type: 'button', onclick: () => { closePanel(); location.hash = '#/trust'; }}, 'Trusted CAs'));
  }
  show($('op-cancel'), !done);
  show($('op-close'), done);
  show($('op-footer'), true);
}

// renderForm builds the credentials form from the TPS's parameters, or
// the new-PIN form; a form already on screen for the same prompt is kept
// (the user may be typing).
function renderForm(op) {
  const form = $('op-form');
  const pr = op.prompt;
  if (!pr) {
    if (form.dataset.key) { clear(form); delete form.dataset.key; }
    show(form, false);
    return;
  }
  const key = op.id + ':' + pr.seq;
  show(form, true);
  if (form.dataset.key === key) return;
  clear(form);
  form.dataset.key = key;
  form.dataset.kind = pr.kind;
  if (pr.kind === 'login') {
    form.append(el('h3', {text: pr.title || 'Log in to the server'}));
    if (pr.description) form.append(el('p', {class: 'muted', text: pr.description}));
    if (pr.invalidPassword) form.append(el('p', {class: 'error', text: 'The password was not accepted. Try again.'}));
    if (pr.blocked) form.append(el('p', {class: 'error', text: 'The account is blocked.'}));
    (pr.params || []).forEach((pp, i) => {
      const id = 'op-field-' + i;
      form.append(el('label', {for: id, text: pp.name || pp.id}));
      form.append(el('input', {id, type: pp.secret ? 'password' : 'text', 'data-param': pp.id, required: true,
        autocomplete: pp.secret ? 'current-password' : 'username', spellcheck: 'false'}));
      if (pp.description && pp.description !== pp.name) form.append(el('small', {class: 'muted', text: pp.description}));
    });
  } else {
    form.append(el('h3', {text: 'New card PIN'}));
    const rule = pr.max > 0 ? pr.min + ' to ' + pr.max + ' characters' : 'at least ' + pr.min + ' characters';
    form.append(el('p', {class: 'muted', text: 'Choose the PIN that will protect the card: ' + rule + '.'}));
    form.append(el('label', {for: 'op-pin', text: 'New PIN'}));
    form.append(el('input', {id: 'op-pin', type: 'password', required: true, minlength: pr.min, maxlength: pr.max > 0 ? pr.max : null, autocomplete: 'new-password'}));
    form.append(el('label', {for: 'op-pin2', text: 'Repeat the new PIN'}));
    form.append(el('input', {id: 'op-pin2', type: 'password', required: true, autocomplete: 'new-password'}));
  }
  form.append(el('p', {id: 'op-form-error', class: 'error', hidden: true}));
  form.append(el('div', {class: 'buttons'}, el('button', {type: 'submit', id: 'op-submit', class: 'primary'}, 'Continue')));
  const first = form.querySelector('input');
  if (first) first.focus();
}

async function submitForm(ev) {
  ev.preventDefault();
  const form = $('op-form');
  const p = state.panel;
  const op = p && state.ops.get(p.id);
  if (!op || !op.prompt) return;
  const pr = op.prompt;
  const err = $('op-form-error');
  let path, body;
  if (pr.kind === 'login') {
    const values = {};
    form.querySelectorAll('input[data-param]').forEach(i => { values[i.dataset.param] = i.value; });
    path = '/api/ops/' + op.id + '/login';
    body = {seq: pr.seq, values};
  } else {
    const a = $('op-pin').value, b = $('op-pin2').value;
    if (a !== b) { message(err, 'The two PINs differ.', 'error'); return; }
    if (a.length < pr.min || (pr.max > 0 && a.length > pr.max)) {
      message(err, 'The PIN must be ' + (pr.max > 0 ? pr.min + ' to ' + pr.max : 'at least ' + pr.min) + ' characters long.', 'error');
      return;
    }
    path = '/api/ops/' + op.id + '/pin';
    body = {seq: pr.seq, pin: a};
  }
  $('op-submit').disabled = true;
  try {
    await api('POST', path, body);
    // Forget what was typed as soon as it is handed over.
    form.querySelectorAll('input').forEach(i => { i.value = ''; });
    body = null;
  } catch (e) {
    message(err, e.message, 'error');
    const s = $('op-submit');
    if (s) s.disabled = false;
  }
}

// ---------- routing ----------

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  let page = parts[0] || 'cards';
  if (!['cards', 'certs', 'phonehome', 'diagnostics', 'trust'].includes(page)) page = 'cards';
  state.page = page;
  state.pageArg = parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : '';
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== 'page-' + page;
  for (const a of document.querySelectorAll('nav a')) {
    const on = a.dataset.nav === page || (a.dataset.nav === 'cards' && (page === 'certs' || page === 'phonehome'));
    a.classList.toggle('active', on);
  }
  document.body.dataset.page = page;
  if (page === 'certs') renderCerts();
  if (page === 'phonehome') loadPhoneHome();
  if (page === 'diagnostics') loadDiagnostics();
  if (page === 'trust') loadTrust();
}

// ---------- start ----------

$('op-start').addEventListener('click', startOp);
$('op-intro-cancel').addEventListener('click', closePanel);
$('op-close').addEventListener('click', closePanel);
$('op-cancel').addEventListener('click', () => {
  const p = state.panel;
  if (p && p.mode === 'op') api('POST', '/api/ops/' + p.id + '/cancel', {}).catch(() => {});
});
$('op-form').addEventListener('submit', submitForm);
$('ph-form').addEventListener('submit', ev => {
  ev.preventDefault();
  const u = $('ph-url').value.trim();
  if (!u) { message($('ph-message'), 'Enter the phone-home URL.', 'error'); return; }
  phoneHomeNow(u);
});
$('ph-test').addEventListener('click', () => phoneHomeNow(''));
$('diag-refresh').addEventListener('click', loadDiagnostics);
$('trust-form').addEventListener('submit', addTrust);
window.addEventListener('hashchange', route);
route();
connect();
