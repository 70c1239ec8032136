// The ebbflow dashboard: the functions' pools over time (uPlot, starting from the server's recent
// history), scaling decisions with their reasons, the newest tasks (each opens a task view: error,
// logs, arguments, result, times, its id to copy, and a retry), and an invoke form for the
// functions that run tasks. Live from GET /events, read with fetch streaming so a Bearer token
// works. Plain script, no build step; all text goes in through textContent, never as HTML.

const TOKEN_KEY = 'ebbflow.token';
/** Seconds of history per chart. */
const WINDOW = 180;
const MAX_TASKS = 50;
const MAX_DECISIONS = 100;

const $ = (selector) => document.querySelector(selector);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-') || key.startsWith('aria-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
};
const clock = (seconds) =>
  new Date(seconds * 1000).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');

const functions = new Map(); // name -> FunctionInfo
const series = new Map(); // name -> { t, workers, queue, running, peaks }
const charts = new Map(); // name -> { plot, card }
const tasks = new Map(); // id -> TaskRecord
const logs = new Map(); // taskId -> [{ at, level, message }]
const sentArgs = new Map(); // taskId -> the arguments this page sent (records do not carry them)

// ---- the token ---------------------------------------------------------------------------
let asking;
/** The time of the newest stats, in seconds (the charts' right edge). */
let latest = Date.now() / 1000;
/** The oldest time a chart shows: when the page opened, or its history began. */
let opened = latest;
const token = () => sessionStorage.getItem(TOKEN_KEY);

/** Ask once for the token (one dialog however many calls needed it); resolves once it works. */
const askToken = (why) => {
  asking ??= new Promise((resolve) => {
    const dialog = $('#token-dialog');
    $('#token-error').textContent = why ?? '';
    setStatus('Waiting for the server token');
    $('#token-form').onsubmit = async (event) => {
      event.preventDefault();
      const candidate = $('#token-input').value.trim();
      const check = await fetch('/functions', {
        headers: { Authorization: `Bearer ${candidate}` },
      });
      if (check.status === 401) {
        $('#token-error').textContent = 'That token was refused. Try again.';
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, candidate);
      dialog.close();
      asking = undefined;
      resolve();
    };
    dialog.addEventListener('cancel', (event) => event.preventDefault());
    dialog.showModal();
    $('#token-input').focus();
  });
  return asking;
};

/** fetch with the token; asks for it on a 401 and tries again. */
const api = async (path, init = {}) => {
  const headers = new Headers(init.headers);
  const saved = token();
  if (saved) headers.set('Authorization', `Bearer ${saved}`);
  const response = await fetch(path, { ...init, headers });
  if (response.status !== 401) return response;
  await askToken(saved ? 'The saved token was refused.' : '');
  return api(path, init);
};

const setStatus = (text) => {
  $('#connection').textContent = text;
};

// ---- functions and charts ------------------------------------------------------------------
/** Whether a function runs tasks (a default export); unknown until it has loaded. */
const runsTasks = (info) => info.exports?.default !== false;

const renderFunctions = () => {
  const body = $('#functions tbody');
  const select = $('#invoke-function');
  const chosen = select.value;
  body.replaceChildren();
  select.replaceChildren();
  const handlersOnly = [];
  for (const info of functions.values()) {
    const num = (value) => el('td', { class: 'num' }, String(value ?? 0));
    const http = info.exports?.fetch
      ? el('a', { href: `/fn/${encodeURIComponent(info.name)}/` }, `/fn/${info.name}/`)
      : el('span', { class: 'muted' }, '–');
    const status = el('td', { class: `status-${info.status}` }, info.status);
    if (info.error) status.append(el('span', { class: 'why' }, `: ${info.error}`));
    body.append(
      el(
        'tr',
        { 'data-function': info.name },
        el('th', { scope: 'row' }, info.name),
        status,
        num(info.version ?? ''),
        num(info.activeWorkers),
        num(info.queueSize),
        num(info.activeTasks),
        num(info.tasksCompleted),
        num(info.tasksFailed),
        num(Math.round(info.avgTaskTime ?? 0)),
        el('td', {}, http),
      ),
    );
    if (runsTasks(info)) select.append(el('option', { value: info.name }, info.name));
    else handlersOnly.push(info.name);
    ensureChart(info.name);
  }
  if (chosen && [...select.options].some((o) => o.value === chosen)) select.value = chosen;
  const note = $('#handlers-note');
  note.hidden = handlersOnly.length === 0;
  note.replaceChildren();
  if (handlersOnly.length) {
    note.append('HTTP handlers only (no tasks to invoke): ');
    handlersOnly.forEach((name, i) => {
      if (i > 0) note.append(', ');
      note.append(el('a', { href: `/fn/${encodeURIComponent(name)}/` }, `/fn/${name}/`));
    });
  }
};

const ensureChart = (name) => {
  if (charts.has(name) || typeof uPlot === 'undefined') return;
  const data = {
    t: [],
    workers: [],
    queue: [],
    running: [],
    peaks: { workers: 0, queue: 0, running: 0 },
  };
  series.set(name, data);
  const box = el('div');
  const card = el(
    'figure',
    { class: 'chart', 'data-chart': name, 'data-points': '0' },
    el('h3', {}, name),
    box,
  );
  card.setAttribute('aria-label', `${name}: workers, queued and running tasks over time`);
  $('#charts').append(card);
  const plot = new uPlot(
    {
      width: chartWidth(box),
      height: 140,
      // One legend for all charts, above them.
      legend: { show: false },
      // Room on the right for half of the last time label, which is centred on its tick.
      padding: [8, 32, 0, 0],
      // The last WINDOW seconds, so charts side by side share one time axis.
      scales: {
        x: {
          time: true,
          range: () => [Math.min(latest - 30, Math.max(latest - WINDOW, opened)), latest],
        },
        y: { range: (_u, _min, max) => [0, Math.max(2, max)] },
      },
      series: [
        {},
        { label: 'workers', stroke: '#0b5cad', width: 2 },
        { label: 'queued', stroke: '#a4161a', width: 2, dash: [6, 3] },
        { label: 'running', stroke: '#1b6e20', width: 2, dash: [2, 2] },
      ],
      axes: [{ space: 80, values: (_u, splits) => splits.map(clock) }, { size: 40 }],
    },
    [data.t, data.workers, data.queue, data.running],
    box,
  );
  charts.set(name, { plot, card, box });
  sized.observe(box);
};

/** The chart's width: its box's, once laid out (a phone's is narrower than any default). */
const chartWidth = (box) => Math.max(200, Math.floor(box.clientWidth || 300));
const sized = new ResizeObserver(() => {
  for (const { plot, box } of charts.values()) {
    const width = chartWidth(box);
    if (width !== plot.width) plot.setSize({ width, height: 140 });
  }
});

/** One second of one function's gauges, at `now` (seconds). */
const addSample = (name, now, s) => {
  const data = series.get(name);
  if (!data) return;
  if (data.t.length && now <= data.t.at(-1)) return;
  data.t.push(now);
  data.workers.push(s.activeWorkers);
  data.queue.push(s.queueSize);
  data.running.push(s.activeTasks);
  while (data.t.length && data.t[0] < now - WINDOW) {
    for (const key of ['t', 'workers', 'queue', 'running']) data[key].shift();
  }
  for (const key of ['workers', 'queue', 'running']) {
    const last = data[key].at(-1);
    if (last > data.peaks[key]) data.peaks[key] = last;
  }
};

const redraw = () => {
  for (const [name, chart] of charts) {
    const data = series.get(name);
    chart.plot.setData([data.t, data.workers, data.queue, data.running]);
    chart.card.dataset.points = String(data.t.length);
    chart.card.dataset.peakWorkers = String(data.peaks.workers);
    chart.card.dataset.peakQueue = String(data.peaks.queue);
    chart.card.dataset.peakRunning = String(data.peaks.running);
  }
};

const record = (stats) => {
  const now = Date.now() / 1000;
  latest = now;
  for (const [name, s] of Object.entries(stats.functions ?? {})) {
    const info = functions.get(name);
    if (!info) {
      void loadFunctions();
      continue;
    }
    Object.assign(info, s);
    addSample(name, now, s);
  }
  redraw();
  renderFunctions();
};

/** The server's recent samples, so the charts start with the last minutes, not empty. */
const loadHistory = async () => {
  const response = await api('/stats/history');
  if (!response.ok) return;
  const { samples = [] } = await response.json();
  for (const sample of samples) {
    const at = sample.at / 1000;
    for (const [name, s] of Object.entries(sample.functions)) {
      ensureChart(name);
      addSample(name, at, s);
    }
  }
  if (samples.length) {
    const first = samples[0].at / 1000;
    if (first < opened) opened = first;
    latest = Math.max(latest, samples.at(-1).at / 1000);
  }
  redraw();
};

const loadFunctions = async () => {
  const response = await api('/functions');
  if (!response.ok) return;
  const body = await response.json();
  for (const info of body.functions)
    functions.set(info.name, { ...functions.get(info.name), ...info });
  renderFunctions();
};

// ---- scaling decisions ---------------------------------------------------------------------
const addDecision = (event) => {
  const list = $('#scaling');
  const arrow = event.action === 'hold' ? 'held at' : `${event.from} →`;
  list.prepend(
    el(
      'li',
      { 'data-action': event.action },
      el('time', { dateTime: new Date(event.at).toISOString() }, time(event.at)),
      ` ${event.function}: ${event.action} (${arrow} ${event.to}) — `,
      el('span', { class: 'reason' }, event.reason),
    ),
  );
  while (list.children.length > MAX_DECISIONS) list.lastElementChild.remove();
};

// ---- tasks and logs --------------------------------------------------------------------------
let renderQueued = false;
const renderTasksSoon = () => {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderTasks();
  });
};

const open = new Set(); // task ids whose logs are shown
const renderTasks = () => {
  const newest = [...tasks.values()]
    .sort((a, b) => b.submittedAt - a.submittedAt)
    .slice(0, MAX_TASKS);
  for (const id of tasks.keys()) {
    if (tasks.size > MAX_TASKS * 4 && !newest.some((t) => t.id === id)) {
      tasks.delete(id);
      logs.delete(id);
      sentArgs.delete(id);
    }
  }
  const body = $('#tasks tbody');
  body.replaceChildren(
    ...newest.map((task) => {
      const lines = logs.get(task.id) ?? task.logs ?? [];
      const details = el(
        'details',
        { open: open.has(task.id) },
        el('summary', {}, `${lines.length} line${lines.length === 1 ? '' : 's'}`),
        el('pre', {}, lines.map((l) => `${time(l.at)} ${l.level}: ${l.message}`).join('\n')),
      );
      details.addEventListener('toggle', () => {
        if (details.open) open.add(task.id);
        else open.delete(task.id);
      });
      // The error code in the row itself: a tooltip is no use on a touch screen.
      const status = task.errorCode ? `${task.status} · ${task.errorCode}` : task.status;
      const opener = el(
        'button',
        { type: 'button', class: 'link', 'aria-label': `Open task ${task.id}` },
        task.id.length > 12 ? `${task.id.slice(0, 8)}…` : task.id,
      );
      opener.addEventListener('click', () => showTask(task.id));
      return el(
        'tr',
        { 'data-task': task.id },
        el('td', {}, opener),
        el('td', {}, task.function),
        el('td', { class: `status-${task.status}` }, status),
        el('td', {}, time(task.submittedAt)),
        el(
          'td',
          { class: 'num' },
          task.executionTime === undefined ? '' : String(Math.round(task.executionTime)),
        ),
        el('td', { class: 'num' }, task.workerId === undefined ? '' : String(task.workerId)),
        el('td', {}, lines.length ? details : el('span', { class: 'muted' }, '–')),
      );
    }),
  );
};

// ---- the task view -----------------------------------------------------------------------------
let shown; // the id of the task in the view
const view = $('#task-view');

const pretty = (value) => JSON.stringify(value, null, 2);
const stamp = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : '');

const fillTask = (task) => {
  $('#task-title').textContent = `Task of ${task.function} · ${task.status}`;
  $('#task-id').textContent = task.id;
  $('#task-copied').textContent = '';
  const ended = task.completedAt ?? task.failedAt ?? task.cancelledAt;
  const fields = [
    [
      'Function',
      `${task.function}${task.version === undefined ? '' : ` (version ${task.version})`}`,
    ],
    ['Status', task.status],
    ['Error code', task.errorCode],
    ['Attempt', task.attempts ? `${task.attempt ?? 1} of ${task.attempts}` : undefined],
    ['Runs again', task.retryOf ? `task ${task.retryOf}` : undefined],
    ['Submitted', stamp(task.submittedAt)],
    ['Started', stamp(task.startedAt)],
    [task.status === 'completed' ? 'Completed' : 'Ended', stamp(ended)],
    ['Waited', task.startedAt ? `${task.startedAt - task.submittedAt} ms` : undefined],
    ['Ran', task.executionTime === undefined ? undefined : `${task.executionTime.toFixed(1)} ms`],
    ['Worker', task.workerId],
  ];
  $('#task-fields').replaceChildren(
    ...fields
      .filter(([, value]) => value !== undefined && value !== '')
      .flatMap(([label, value]) => [el('dt', {}, label), el('dd', {}, String(value))]),
  );
  $('#task-error-box').hidden = !task.error;
  $('#task-error').textContent = task.error ?? '';
  const args = sentArgs.get(task.id);
  $('#task-args').textContent =
    args === undefined
      ? 'Not in the record: the server keeps a task’s arguments only to run it. Tasks invoked from this page show theirs.'
      : pretty(args);
  $('#task-result').textContent =
    task.status === 'completed'
      ? pretty(task.result ?? null)
      : '(none: the task has not completed)';
  const lines = logs.get(task.id) ?? task.logs ?? [];
  $('#task-logs').textContent = lines.length
    ? lines.map((l) => `${stamp(l.at)} ${l.level}: ${l.message}`).join('\n')
    : '(nothing printed)';
  $('#task-retry').hidden = !(task.status === 'failed' || task.status === 'cancelled');
};

/** Open the view on task `id`: the whole record (result included) from the server. */
const showTask = async (id) => {
  shown = id;
  const known = tasks.get(id);
  if (known) fillTask(known);
  $('#task-retry-result').textContent = '';
  if (!view.open) view.showModal();
  if (location.hash !== `#task/${id}`)
    history.replaceState(null, '', `#task/${encodeURIComponent(id)}`);
  const response = await api(`/tasks/${encodeURIComponent(id)}`);
  if (shown !== id) return;
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    $('#task-title').textContent = 'Task';
    $('#task-id').textContent = id;
    $('#task-fields').replaceChildren(
      el('dt', {}, 'Not found'),
      el('dd', {}, body.error?.message ?? `HTTP ${response.status}`),
    );
    return;
  }
  const task = await response.json();
  tasks.set(id, { ...tasks.get(id), ...task });
  fillTask(task);
};

const closeTask = () => {
  shown = undefined;
  if (view.open) view.close();
  if (location.hash.startsWith('#task/')) history.replaceState(null, '', location.pathname);
};

$('#task-close').addEventListener('click', closeTask);
view.addEventListener('close', () => {
  shown = undefined;
  if (location.hash.startsWith('#task/')) history.replaceState(null, '', location.pathname);
});

$('#task-copy').addEventListener('click', async () => {
  const id = $('#task-id').textContent;
  try {
    await navigator.clipboard.writeText(id);
  } catch {
    // No clipboard API (a page not on https or localhost): select the id to copy by hand.
    const range = document.createRange();
    range.selectNodeContents($('#task-id'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $('#task-copied').textContent = 'Selected: copy it with Ctrl+C';
    return;
  }
  $('#task-copied').textContent = 'Copied';
});

$('#task-retry').addEventListener('click', async () => {
  const id = shown;
  const output = $('#task-retry-result');
  output.textContent = 'Submitting…';
  const response = await api(`/tasks/${encodeURIComponent(id)}/retry`, { method: 'POST' });
  const body = await response.json();
  if (!response.ok) {
    output.className = 'error';
    output.textContent = `${response.status} ${body.error?.code}: ${body.error?.message}`;
    return;
  }
  output.className = '';
  if (sentArgs.has(id)) sentArgs.set(body.id, sentArgs.get(id));
  tasks.set(body.id, body);
  renderTasksSoon();
  await showTask(body.id);
  $('#task-retry-result').textContent = `Submitted as a new task, replaying ${id}`;
});

const addLog = (line) => {
  if (!line.taskId) return;
  const list = logs.get(line.taskId) ?? [];
  list.push(line);
  logs.set(line.taskId, list);
  renderTasksSoon();
};

// ---- invoke ------------------------------------------------------------------------------------
$('#invoke-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const output = $('#invoke-result');
  let args;
  try {
    args = JSON.parse($('#invoke-args').value);
    if (!Array.isArray(args)) throw new Error('the arguments must be a JSON array, e.g. [25]');
  } catch (error) {
    output.className = 'error';
    output.textContent = `Not sent: ${error.message}`;
    return;
  }
  const name = $('#invoke-function').value;
  output.className = '';
  output.textContent = `Running ${name}…`;
  const response = await api(`/functions/${encodeURIComponent(name)}/invoke`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ args }),
  });
  const body = await response.json();
  if (body.error && !body.id) {
    output.className = 'error';
    output.textContent = `${response.status} ${body.error.code}: ${body.error.message}`;
    return;
  }
  tasks.set(body.id, body);
  sentArgs.set(body.id, args);
  renderTasksSoon();
  output.className = body.status === 'completed' ? '' : 'error';
  output.textContent =
    body.status === 'completed'
      ? `completed in ${Math.round(body.executionTime ?? 0)} ms: ${JSON.stringify(body.result)}`
      : `${body.status}: ${body.error}`;
  output.dataset.status = body.status;
});

// ---- the event stream --------------------------------------------------------------------------
const handle = (type, data) => {
  if (type === 'stats') record(data);
  else if (type === 'scale') addDecision(data);
  else if (type === 'log') addLog(data);
  else if (type === 'task') {
    tasks.set(data.id, { ...tasks.get(data.id), ...data });
    renderTasksSoon();
    // The view follows its task; the terminal event carries the whole record.
    if (data.id === shown) fillTask(tasks.get(data.id));
  }
};

const listen = async () => {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 15_000)) {
    try {
      const response = await api('/events');
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setStatus('Live');
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) handle(type, JSON.parse(data));
        }
      }
    } catch (error) {
      console.warn('events:', error);
    }
    setStatus('Disconnected; reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
};

const start = async () => {
  await loadFunctions();
  await loadHistory();
  const stats = await api('/stats');
  if (stats.ok) {
    const body = await stats.json();
    for (const event of body.scalingEvents ?? []) addDecision(event);
  }
  const recent = await api('/tasks?limit=20');
  if (recent.ok) {
    const body = await recent.json();
    for (const task of body.tasks ?? []) tasks.set(task.id, task);
    renderTasksSoon();
  }
  void listen();
  const linked = /^#task\/(.+)$/.exec(location.hash);
  if (linked) void showTask(decodeURIComponent(linked[1]));
};

// For scripting the page (and its tests): the charts, by function name.
window.ebbflowDashboard = { charts };

void start();
