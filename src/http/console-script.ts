/**
 * The console's browser code (GET /console), an inline ES module. Plain JavaScript in a string: it
 * runs in the browser, not in Node, and is written without template literals so it can sit inside
 * one. `__FIELDS__` is replaced by the filter form's fields (console.ts, from filters/fields.ts).
 *
 * Why it asks first: a browser's WebSocket shows a refused handshake only as close 1006, without
 * the status or the body. So before opening the socket the page GETs the same /ws URL; the gateway
 * answers a plain GET with the handshake's own validation error, or 426 when the upgrade would be
 * accepted (http/ws-fallback.ts), and the page shows that detail word for word.
 */
export const CONSOLE_SCRIPT = String.raw`
import { LunaSenderClient, subscriptionUrl } from '/console/client.js';

const FIELDS = __FIELDS__;
const $ = (id) => document.getElementById(id);
const RECENT = 20;
const state = { client: undefined, count: 0, paused: false, latest: undefined, recent: [], samples: [], gen: 0 };

for (const f of FIELDS) {
  const label = document.createElement('label');
  label.title = f.description;
  label.append(f.name);
  let input;
  if (f.options) {
    input = document.createElement('select');
    input.multiple = f.multiple;
    if (!f.multiple) input.append(new Option('(any)', ''));
    for (const o of f.options) input.append(new Option(o.label, o.value));
  } else {
    input = document.createElement('input');
    input.placeholder = f.example;
    input.spellcheck = false;
  }
  input.name = f.name;
  input.dataset.filter = f.name;
  label.append(input);
  $('filters').append(label);
}

const saved = localStorage.getItem('luna-console');
if (saved) {
  try {
    const s = JSON.parse(saved);
    if (typeof s.account === 'string') $('account').value = s.account;
    if (s.api === '1' || s.api === '2') $('api').value = s.api;
  } catch {}
}

/** The filter query string from the form: lists comma-separated, then the free-form extra. */
function filterQuery() {
  const q = new URLSearchParams();
  for (const el of document.querySelectorAll('[data-filter]')) {
    const v = el.multiple ? Array.from(el.selectedOptions, (o) => o.value).join(',') : el.value.trim();
    if (v !== '') q.append(el.dataset.filter, v);
  }
  const extra = $('extra').value.trim().replace(/^[?&]+/, '');
  const own = q.toString();
  return own === '' ? extra : extra === '' ? own : own + '&' + extra;
}

/** Re-indents JSON text without parsing it, so 64-bit ids and number spellings stay as sent. */
function pretty(text) {
  let out = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  const nl = () => '\n' + '  '.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '{' || c === '[') {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j])) j++;
      if (text[j] === (c === '{' ? '}' : ']')) {
        out += c + text[j];
        i = j;
      } else {
        depth++;
        out += c + nl();
      }
    } else if (c === '}' || c === ']') {
      depth--;
      out += nl() + c;
    } else if (c === ',') out += ',' + nl();
    else if (c === ':') out += ': ';
    else if (!/\s/.test(c)) out += c;
  }
  return out;
}

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = text === '';
}

function draw() {
  $('count').textContent = String(state.count);
  if (state.paused) return;
  if (state.latest !== undefined) $('latest').textContent = pretty(state.latest.frame);
  const ol = $('recent');
  ol.replaceChildren(
    ...state.recent.map((r) => {
      const li = document.createElement('li');
      li.textContent = r.at + '  ' + (r.position ?? '') + '  ' + r.frame;
      return li;
    }),
  );
  ol.start = state.count;
}

function onEvent(frame, position) {
  state.count++;
  state.latest = { frame, position };
  state.recent.unshift({ frame, position, at: new Date().toISOString().slice(11, 23) });
  state.recent.length = Math.min(state.recent.length, RECENT);
  if (position) $('position').textContent = position;
  draw();
}

function describe(s) {
  switch (s.state) {
    case 'connecting':
      return 'connecting' + (s.attempt > 0 ? ' (attempt ' + (s.attempt + 1) + ')' : '') + (s.resume ? ', resuming after ' + s.resume : '');
    case 'open':
      return s.resumed ? 'open (resumed)' : 'open';
    case 'waiting':
      return 'reconnecting in ' + Math.round(s.delayMs) + ' ms (closed ' + s.code + (s.reason ? ' ' + s.reason : '') + ')';
    case 'failed':
      return 'failed: HTTP ' + s.status + ' ' + s.detail;
    default:
      return s.state;
  }
}

async function subscribe(ev) {
  ev.preventDefault();
  stop();
  showError('');
  const gen = ++state.gen;
  const account = $('account').value.trim();
  const token = $('token').value.trim();
  const api = Number($('api').value);
  const filters = filterQuery();
  localStorage.setItem('luna-console', JSON.stringify({ account, api: String(api) }));
  const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  let checkUrl;
  try {
    checkUrl = subscriptionUrl({ url: location.origin, api, account, filters });
  } catch (err) {
    return showError(err.message);
  }
  $('state').textContent = 'checking the subscription';
  $('url').textContent = subscriptionUrl({ url: wsBase, api, account, filters });
  let answer;
  try {
    answer = await fetch(checkUrl, { headers: token ? { Authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
  } catch (err) {
    $('state').textContent = 'not subscribed';
    return showError('The gateway cannot be reached: ' + err.message);
  }
  if (gen !== state.gen) return;
  if (answer.status !== 426) {
    const text = await answer.text();
    let detail = text;
    try {
      const body = JSON.parse(text);
      if (typeof body.detail === 'string') detail = body.detail;
    } catch {}
    $('state').textContent = 'refused (HTTP ' + answer.status + ')';
    return showError(detail);
  }
  // Browsers cannot set headers on a WebSocket: the token travels as a subprotocol (SPEC 10).
  const WS = token ? class extends WebSocket { constructor(url) { super(url, ['luna-sender', 'bearer.' + token]); } } : WebSocket;
  state.count = 0;
  state.latest = undefined;
  state.recent = [];
  state.samples = [];
  $('latest').textContent = '-';
  $('position').textContent = '-';
  $('gaps').replaceChildren();
  draw();
  state.client = new LunaSenderClient({
    url: wsBase,
    api,
    account,
    filters,
    WebSocket: WS,
    onEvent,
    onState(s) {
      $('state').textContent = describe(s);
      if (s.state === 'open') refreshStatus();
    },
    onGap(g) {
      const p = document.createElement('p');
      p.textContent = 'Events may be missing (' + g.reason + '): ' + g.detail;
      $('gaps').append(p);
    },
  });
  state.client.start();
  $('stop').disabled = false;
}

function stop() {
  if (state.client === undefined) return;
  state.client.stop();
  state.client = undefined;
  $('stop').disabled = true;
}

$('sub').addEventListener('submit', subscribe);
$('stop').addEventListener('click', () => {
  state.gen++;
  stop();
});
$('pause').addEventListener('click', () => {
  state.paused = !state.paused;
  $('pause').textContent = state.paused ? 'Resume display' : 'Pause display';
  $('pause').setAttribute('aria-pressed', String(state.paused));
  document.body.classList.toggle('paused', state.paused);
  draw();
});

// The rate: events over the last 5 s of one-second samples.
setInterval(() => {
  const now = performance.now();
  state.samples.push([now, state.count]);
  while (state.samples.length > 1 && now - state.samples[0][0] > 5000) state.samples.shift();
  const [t0, c0] = state.samples[0];
  $('rate').textContent = state.client && now > t0 ? ((state.count - c0) / ((now - t0) / 1000)).toFixed(1) : '-';
}, 1000);

/** The Prometheus text exposition: sum and max of every sample of each metric name. */
function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const r = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!r) continue;
    const v = Number(r[3]);
    const cur = m.get(r[1]);
    if (cur) {
      cur.sum += v;
      cur.max = Math.max(cur.max, v);
    } else m.set(r[1], { sum: v, max: v });
  }
  return m;
}

let lastDeliveries;
const fmt = (v, digits) => (v === undefined || Number.isNaN(v) ? '-' : digits === undefined ? String(v) : v.toFixed(digits));

async function refreshStatus() {
  let m;
  try {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    m = parseMetrics(await res.text());
  } catch {
    for (const id of ['m-workers', 'm-connections', 'm-deliveries', 'm-lag']) $(id).textContent = '-';
    return;
  }
  $('m-workers').textContent = fmt(m.get('luna_sender_workers')?.sum);
  $('m-connections').textContent = fmt(m.get('luna_sender_open_connections')?.sum);
  $('m-lag').textContent = fmt(m.get('luna_sender_stream_lag_seconds')?.max, 3);
  const d = (m.get('luna_sender_deliveries_total') ?? m.get('luna_sender_topic_publishes_total'))?.sum;
  const now = performance.now();
  if (d !== undefined && lastDeliveries !== undefined && now > lastDeliveries[0] && d >= lastDeliveries[1]) {
    $('m-deliveries').textContent = fmt((d - lastDeliveries[1]) / ((now - lastDeliveries[0]) / 1000), 1);
  }
  lastDeliveries = d === undefined ? undefined : [now, d];
}
refreshStatus();
setInterval(refreshStatus, 2000);
window.lunaConsole = state;
`;
