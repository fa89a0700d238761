// The sink's web UI: plain ES modules (no framework, no build needed; Vite bundles it for
// releases). Message data is only ever put into the page as text (textContent), and message
// HTML is shown in a sandboxed iframe without allow-scripts, served with its own CSP.

const PAGE = 50;
const state = { start: 0, query: '', total: 0, selected: null, messages: [], tab: 'html', remote: false };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(path, init) {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, ...init });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  const type = response.headers.get('content-type') ?? '';
  return type.includes('json') ? response.json() : response.text();
}

function who(address) {
  if (!address) return '';
  return address.Name ? `${address.Name} <${address.Address}>` : address.Address;
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString();
}

async function loadList() {
  const params = new URLSearchParams({ start: String(state.start), limit: String(PAGE) });
  let data;
  if (state.query) {
    params.set('query', state.query);
    data = await api(`/api/v1/search?${params}`);
  } else {
    data = await api(`/api/v1/messages?${params}`);
  }
  state.total = data.messages_count;
  state.messages = data.messages;
  $('counts').textContent =
    `${data.total} ${data.total === 1 ? 'message' : 'messages'}, ${data.unread} unread`;
  document.title = data.unread > 0 ? `(${data.unread}) Mailyard sink` : 'Mailyard sink';
  renderList();
}

function renderList() {
  const list = $('list');
  list.replaceChildren(
    ...state.messages.map((m) =>
      el(
        'li',
        {
          class: `${m.Read ? '' : 'unread'} ${state.selected === m.ID ? 'selected' : ''}`,
          'data-id': m.ID,
          onclick: () => openMessage(m.ID),
        },
        el(
          'div',
          { class: 'row1' },
          el('span', { class: 'from' }, who(m.From) || '(no sender)'),
          el('span', {}, when(m.Created)),
        ),
        el('div', { class: 'subject' }, m.Subject || '(no subject)'),
        el('div', { class: 'snippet' }, m.Snippet),
      ),
    ),
  );
  const end = Math.min(state.start + state.messages.length, state.total);
  $('page-info').textContent = state.total ? `${state.start + 1}–${end} of ${state.total}` : 'No messages';
  $('prev').disabled = state.start === 0;
  $('next').disabled = end >= state.total;
}

function badge(result) {
  return el('span', { class: `badge ${result}` }, result);
}

function verdictTable(v) {
  if (!v)
    return el('p', { style: 'padding:10px' }, 'Checking… (verdicts appear when DNS answers or times out)');
  if (v.error) return el('p', { style: 'padding:10px' }, `Could not verify: ${v.error}`);
  const rows = [
    ['SPF', v.spf?.result, v.spf?.domain ?? ''],
    ...(v.dkim?.length
      ? v.dkim.map((d) => ['DKIM', d.result, `${d.domain ?? ''} ${d.selector ? `(s=${d.selector})` : ''}`])
      : [['DKIM', 'none', 'no signature']]),
    ['DMARC', v.dmarc?.result, v.dmarc?.fromDomain ?? ''],
    ['ARC', v.arc?.result, v.arc?.instance ? `i=${v.arc.instance}` : ''],
  ];
  return el(
    'div',
    { class: 'verdicts' },
    el(
      'table',
      {},
      ...rows.map(([name, result, detail]) =>
        el('tr', {}, el('th', {}, name), el('td', {}, badge(result ?? 'none')), el('td', {}, detail)),
      ),
    ),
    el('pre', {}, v.authenticationResults ?? ''),
  );
}

let current = null;

async function openMessage(id) {
  state.selected = id;
  state.remote = false;
  const message = await api(`/api/v1/message/${id}`);
  current = message;
  const item = state.messages.find((m) => m.ID === id);
  if (item) item.Read = true;
  renderList();
  $('empty-pane').hidden = true;
  $('view-pane').hidden = false;
  $('view-head').replaceChildren(
    el('h2', {}, message.Subject || '(no subject)'),
    el(
      'div',
      { class: 'meta' },
      el('div', {}, `From: ${who(message.From)}`),
      el('div', {}, `To: ${message.To.map(who).join(', ')}`),
      message.Cc.length ? el('div', {}, `Cc: ${message.Cc.map(who).join(', ')}`) : null,
      el(
        'div',
        {},
        `Envelope: ${message.Envelope?.MailFrom ?? '<>'} → ${(message.Envelope?.RcptTo ?? []).join(', ')}`,
      ),
      el('div', {}, `Date: ${when(message.Date)} · ${message.Size} bytes`),
    ),
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'button', onclick: () => markUnread(id) }, 'Mark unread'),
      el(
        'a',
        { href: `/api/v1/message/${id}/raw?dl=1`, download: `${id}.eml` },
        el('button', { type: 'button' }, 'Download .eml'),
      ),
      el(
        'button',
        { type: 'button', class: 'danger', id: 'delete-one', onclick: () => deleteOne(id) },
        'Delete',
      ),
    ),
  );
  const tabs = [
    ['html', 'HTML', Boolean(message.HTML)],
    ['text', 'Text', true],
    ['headers', 'Headers', true],
    ['raw', 'Raw', true],
    ['attachments', `Attachments (${message.Attachments.length + message.Inline.length})`, true],
    ['auth', 'Authentication', true],
    ['links', `Links & codes (${message.Links.length + message.Codes.length})`, true],
  ].filter(([, , show]) => show);
  if (!tabs.some(([key]) => key === state.tab)) state.tab = tabs[0][0];
  $('tabs').replaceChildren(
    ...tabs.map(([key, label]) =>
      el(
        'button',
        {
          type: 'button',
          role: 'tab',
          'data-tab': key,
          'aria-selected': String(state.tab === key),
          onclick: () => showTab(key),
        },
        label,
      ),
    ),
  );
  await showTab(state.tab);
}

async function showTab(key) {
  state.tab = key;
  for (const button of $('tabs').children)
    button.setAttribute('aria-selected', String(button.dataset.tab === key));
  const body = $('tab-body');
  const m = current;
  if (!m) return;
  if (key === 'html') {
    const hasRemote = /<img[^>]+src=["']?https?:/i.test(m.HTML) || /url\(\s*['"]?https?:/i.test(m.HTML);
    const frame = el('iframe', {
      // No allow-scripts, no allow-same-origin: the message runs nothing and reaches nothing.
      sandbox: 'allow-popups allow-popups-to-escape-sandbox',
      referrerpolicy: 'no-referrer',
      title: 'Message HTML',
      id: 'html-frame',
      src: `/view/${m.ID}.html?embed=1${state.remote ? '&remote=1' : ''}`,
    });
    const banner =
      hasRemote && !state.remote
        ? el(
            'div',
            { class: 'banner' },
            'Remote images are blocked.',
            el(
              'button',
              {
                type: 'button',
                id: 'allow-remote',
                onclick: () => {
                  state.remote = true;
                  showTab('html');
                },
              },
              'Show remote images',
            ),
          )
        : null;
    body.replaceChildren(...[banner, frame].filter(Boolean));
  } else if (key === 'text') {
    body.replaceChildren(el('pre', {}, m.Text || '(no text part)'));
  } else if (key === 'headers') {
    const headers = await api(`/api/v1/message/${m.ID}/headers`);
    body.replaceChildren(
      el(
        'table',
        {},
        ...Object.entries(headers).flatMap(([name, values]) =>
          values.map((v) => el('tr', {}, el('th', {}, name), el('td', {}, v))),
        ),
      ),
    );
  } else if (key === 'raw') {
    const raw = m.Size > 2_000_000 ? null : await api(`/api/v1/message/${m.ID}/raw`);
    body.replaceChildren(
      raw === null
        ? el(
            'p',
            { style: 'padding:10px' },
            el('a', { href: `/api/v1/message/${m.ID}/raw` }, 'Open the raw source (large)'),
          )
        : el('pre', {}, raw),
    );
  } else if (key === 'attachments') {
    const all = [...m.Attachments, ...m.Inline];
    body.replaceChildren(
      all.length === 0
        ? el('p', { style: 'padding:10px' }, 'No attachments.')
        : el(
            'table',
            {},
            ...all.map((a) =>
              el(
                'tr',
                {},
                el(
                  'td',
                  {},
                  el(
                    'a',
                    {
                      href: `/api/v1/message/${m.ID}/part/${a.PartID}?dl=1`,
                      download: a.FileName || 'attachment',
                    },
                    a.FileName || '(unnamed)',
                  ),
                ),
                el('td', {}, a.ContentType),
                el('td', {}, `${a.Size} bytes`),
                el('td', {}, a.Checksums.SHA256.slice(0, 16)),
              ),
            ),
          ),
    );
  } else if (key === 'auth') {
    body.replaceChildren(verdictTable(m.Verdicts));
  } else if (key === 'links') {
    body.replaceChildren(
      el(
        'div',
        { style: 'padding:10px' },
        el('h3', {}, 'Codes'),
        m.Codes.length
          ? el('p', {}, ...m.Codes.map((c) => el('span', { class: 'code' }, c)))
          : el('p', {}, 'None found.'),
        el('h3', {}, 'Links'),
        el(
          'ul',
          {},
          ...m.Links.map((href) =>
            el('li', {}, el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, href)),
          ),
        ),
      ),
    );
  }
}

async function markUnread(id) {
  await api('/api/v1/messages', {
    method: 'PUT',
    body: JSON.stringify({ IDs: [id], Read: false }),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
  });
  await loadList();
}

async function deleteOne(id) {
  await api('/api/v1/messages', {
    method: 'DELETE',
    body: JSON.stringify({ IDs: [id] }),
    headers: { 'Content-Type': 'application/json', Accept: 'text/plain' },
  });
  closeView();
  await loadList();
}

function closeView() {
  state.selected = null;
  current = null;
  $('view-pane').hidden = true;
  $('empty-pane').hidden = false;
}

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    loadList().catch(() => {});
  }, 150);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events`);
  ws.onopen = () => $('live').classList.add('on');
  ws.onclose = () => {
    $('live').classList.remove('on');
    setTimeout(connect, 2000);
  };
  ws.onmessage = (event) => {
    const { Type, Data } = JSON.parse(event.data);
    if (Type === 'stats') return;
    if (Type === 'update' && Data?.Verdicts && current && Data.ID === current.ID) {
      current.Verdicts = Data.Verdicts;
      if (state.tab === 'auth') showTab('auth');
    }
    if ((Type === 'delete' && Data?.ID === state.selected) || Type === 'truncate') closeView();
    scheduleRefresh();
  };
}

$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.query = $('search').value.trim();
  state.start = 0;
  loadList();
});
$('search').addEventListener('search', () => {
  state.query = $('search').value.trim();
  state.start = 0;
  loadList();
});
$('prev').addEventListener('click', () => {
  state.start = Math.max(0, state.start - PAGE);
  loadList();
});
$('next').addEventListener('click', () => {
  state.start += PAGE;
  loadList();
});
$('delete-all').addEventListener('click', async () => {
  if (!confirm('Delete all messages?')) return;
  await api('/api/v1/messages', { method: 'DELETE', headers: { Accept: 'text/plain' } });
  closeView();
  await loadList();
});
$('mark-all-read').addEventListener('click', async () => {
  await api('/api/v1/messages', {
    method: 'PUT',
    body: JSON.stringify({ Read: true }),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
  });
  await loadList();
});

connect();
loadList();
