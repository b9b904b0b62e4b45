import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, get, post, setToken, stream } from './api';
import { Chart } from './chart';

// The operator console: one page, five panels, every number from the gateway's admin routes.

type Panel = 'account' | 'tenants' | 'messages' | 'live' | 'dead';
const PANELS: [Panel, string][] = [
  ['account', 'Account'],
  ['tenants', 'Tenants'],
  ['messages', 'Messages'],
  ['live', 'Live'],
  ['dead', 'Dead letters'],
];

interface LiveSecond {
  at: number;
  providerCalls: number;
  provider429: number;
  maxWaitMs: number;
  queueDepth: number;
}
interface Account {
  callsPerSecond: number;
  queueDepth: number;
  live: LiveSecond[];
  last5Min: { providerCalls: number; provider429: number; maxWaitMs: number };
}
interface Quota {
  name: string;
  limit: number;
  used: number;
  remaining: number;
  resetsAt: string;
}
interface TenantSummary {
  tenant: string;
  quotas: Quota[];
  rateLimit: { requests: number; windowSec: number; used: number | null };
  statusToday: Record<string, number>;
  webhook: {
    configured: boolean;
    host: string | null;
    disabledAt: string | null;
    lastSuccessAt: string | null;
    retrying: number;
    deadLetters: number;
  };
}
interface Point {
  bucket: string;
  metric: string;
  value: number;
}
interface Series {
  range: '24h' | '30d';
  resolution: 'tenMinutes' | 'hour';
  from: string;
  points: Point[];
}
interface Message {
  id: string;
  tenantId: string;
  to: string;
  from: string;
  status: string;
  reference: string | null;
  segments: number;
  createdAt: string;
  history?: { status: string; detail: string | null; at: string }[];
}
interface DeadLetter {
  id: number;
  tenantId: string;
  type: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  updatedAt: string;
}
interface Webhook {
  tenant: string;
  host: string;
  disabledAt: string | null;
  reason: string | null;
}
interface Unrouted {
  id: string;
  from: string;
  text: string;
  routedBy: string;
  receivedAt: string;
}

const errorText = (error: unknown) =>
  error instanceof ApiFailure ? `${error.code}: ${error.message}` : String(error);
const time = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** Polls `load` every `everyMs` while mounted; returns the latest value and error. */
function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const refresh = useCallback(() => {
    load().then(
      (v) => {
        setValue(v);
        setError(undefined);
      },
      (e: unknown) => setError(errorText(e)),
    );
  }, deps);
  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, everyMs);
    return () => clearInterval(timer);
  }, [refresh]);
  return { value, error, refresh };
}

function SignIn(props: { onSignedIn: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const tryToken = async (token: string) => {
    setToken(token);
    try {
      await get('/v1/admin/console/account');
      props.onSignedIn();
    } catch (e) {
      setToken(undefined);
      setError(e instanceof ApiFailure && e.status === 403 ? 'This token has no admin scope.' : errorText(e));
    }
  };
  const sandbox = async () => {
    try {
      const answer = await post<{ token: string }>('/console/sandbox-token');
      if (answer.data) await tryToken(answer.data.token);
    } catch (e) {
      setError(
        e instanceof ApiFailure && e.status === 404 ? 'Not in sandbox mode: paste a token.' : errorText(e),
      );
    }
  };
  return (
    <section class="signin">
      <h1>smsgate console</h1>
      <p class="muted">
        Sign in with an <code>admin</code> token. It is kept in this page's memory only: closing the tab signs
        you out.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void tryToken(text.trim());
        }}
      >
        <label for="token">Admin token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          autocomplete="off"
          spellcheck={false}
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <div class="row">
          <button type="submit" id="sign-in">
            Sign in
          </button>
          <button type="button" class="secondary" id="sandbox-token" onClick={() => void sandbox()}>
            Sandbox: get a token
          </button>
        </div>
      </form>
      {error && (
        <p class="error" id="signin-error">
          {error}
        </p>
      )}
    </section>
  );
}

function Stat(props: { label: string; value: string | number; id?: string; warn?: boolean }) {
  return (
    <div class={`stat${props.warn ? ' warn' : ''}`} id={props.id}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
    </div>
  );
}

function findBalance(body: unknown): number | string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const o = body as Record<string, unknown>;
  for (const candidate of [
    o.balance,
    (o.data as Record<string, unknown> | undefined)?.balance,
    (o.account as Record<string, unknown> | undefined)?.balance,
  ]) {
    if (typeof candidate === 'number' || typeof candidate === 'string') return candidate;
    if (candidate && typeof candidate === 'object') {
      const inner = candidate as Record<string, unknown>;
      const v = inner.sms ?? inner.credits ?? inner.balance ?? inner.amount;
      if (typeof v === 'number' || typeof v === 'string') return v;
    }
  }
  return undefined;
}

function AccountPanel() {
  const account = usePoll(async () => (await get<Account>('/v1/admin/console/account')).data, 2000);
  const usage = usePoll(async () => findBalance(await get<unknown>('/v1/admin/usage')), 30_000);
  const a = account.value;
  if (!a) return <p class="muted">{account.error ?? 'Loading…'}</p>;
  const x = a.live.map((s) => s.at / 1000);
  return (
    <section id="panel-account">
      <div class="stats">
        <Stat id="stat-calls" label="provider calls, last 5 min" value={a.last5Min.providerCalls} />
        <Stat id="stat-cap" label="cap, calls per second" value={a.callsPerSecond} />
        <Stat id="stat-queue" label="queued for a slot now" value={a.queueDepth} />
        <Stat id="stat-wait" label="longest wait, last 5 min (ms)" value={Math.round(a.last5Min.maxWaitMs)} />
        <Stat
          id="stat-429"
          label="provider 429s, last 5 min"
          value={a.last5Min.provider429}
          warn={a.last5Min.provider429 > 0}
        />
        <Stat
          id="stat-balance"
          label="provider balance"
          value={usage.value === undefined ? 'not available' : String(usage.value)}
        />
      </div>
      <Chart
        id="chart-calls"
        title="Provider calls per second against the cap (last 5 minutes)"
        x={x}
        series={[
          {
            label: 'calls/s',
            values: a.live.map((s) => s.providerCalls),
            stroke: '#2563eb',
            fill: 'rgba(37,99,235,0.12)',
          },
          { label: 'cap', values: a.live.map(() => a.callsPerSecond), stroke: '#dc2626', dash: [6, 4] },
          { label: '429s', values: a.live.map((s) => s.provider429), stroke: '#f59e0b' },
        ]}
      />
      <Chart
        id="chart-queue"
        title="Queue depth and longest wait (ms)"
        height={180}
        x={x}
        series={[
          { label: 'queued', values: a.live.map((s) => s.queueDepth), stroke: '#7c3aed' },
          { label: 'wait ms', values: a.live.map((s) => s.maxWaitMs), stroke: '#059669' },
        ]}
      />
    </section>
  );
}

const METRICS: [string, string, string][] = [
  ['messages', 'messages', '#2563eb'],
  ['segments', 'segments', '#7c3aed'],
  ['requests', 'requests', '#64748b'],
  ['status:delivered', 'delivered', '#059669'],
  ['status:failed', 'failed', '#dc2626'],
  ['webhook_failed', 'webhook failures', '#f59e0b'],
];

function seriesOf(series: Series) {
  const stepMs = series.resolution === 'hour' ? 3_600_000 : 600_000;
  const len = series.resolution === 'hour' ? 13 : 15;
  const pad = series.resolution === 'hour' ? ':00:00.000Z' : '0:00.000Z';
  const start = Date.parse(`${series.from.slice(0, len)}${pad}`);
  const count = series.range === '30d' ? 30 * 24 + 1 : 24 * 6 + 1;
  const x = Array.from({ length: count }, (_, i) => (start + i * stepMs) / 1000);
  const index = new Map(x.map((t, i) => [new Date(t * 1000).toISOString().slice(0, len), i]));
  const values = METRICS.map(() => new Array<number>(count).fill(0));
  for (const p of series.points) {
    const m = METRICS.findIndex(([metric]) => metric === p.metric);
    const i = index.get(p.bucket);
    if (m >= 0 && i !== undefined) values[m]![i] = p.value;
  }
  return { x, values };
}

function TenantCard(props: { t: TenantSummary; range: '24h' | '30d' }) {
  const { t, range } = props;
  const series = usePoll(
    async () =>
      (await get<Series>(`/v1/admin/console/tenants/${encodeURIComponent(t.tenant)}/series?range=${range}`))
        .data,
    15_000,
    [range, t.tenant],
  );
  const s = series.value ? seriesOf(series.value) : undefined;
  return (
    <article class="card tenant" data-tenant={t.tenant}>
      <h3>{t.tenant}</h3>
      <div class="meters">
        {t.quotas.length === 0 && <p class="muted">no segment quota</p>}
        {t.quotas.map((q) => (
          <div class="meter" key={q.name}>
            <span>{q.name === 'segmentsPerDay' ? 'segments today' : 'segments this month'}</span>
            <meter min={0} max={q.limit} value={q.used} high={q.limit * 0.8} optimum={0} />
            <span class="num quota-used">
              {q.used} / {q.limit}
            </span>
          </div>
        ))}
        <div class="meter">
          <span>requests this window</span>
          <meter
            min={0}
            max={t.rateLimit.requests}
            value={t.rateLimit.used ?? 0}
            high={t.rateLimit.requests * 0.8}
            optimum={0}
          />
          <span class="num">
            {t.rateLimit.used ?? '?'} / {t.rateLimit.requests} per {t.rateLimit.windowSec}s
          </span>
        </div>
      </div>
      <div class="cols">
        <div>
          <h4>Messages by status, last 24 h</h4>
          <ul class="statuses">
            {Object.keys(t.statusToday).length === 0 && <li class="muted">none</li>}
            {Object.entries(t.statusToday).map(([status, n]) => (
              <li key={status} class={`status-${status}`}>
                <span class="badge">{status}</span> {n}
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h4>Webhook</h4>
          {t.webhook.configured ? (
            <dl class="webhook">
              <dt>endpoint</dt>
              <dd>{t.webhook.host}</dd>
              <dt>last success</dt>
              <dd>{time(t.webhook.lastSuccessAt)}</dd>
              <dt>retrying</dt>
              <dd>{t.webhook.retrying}</dd>
              <dt>dead letters</dt>
              <dd class={t.webhook.deadLetters > 0 ? 'bad' : ''}>{t.webhook.deadLetters}</dd>
              <dt>state</dt>
              <dd class={t.webhook.disabledAt ? 'bad' : 'good'}>
                {t.webhook.disabledAt ? 'disabled (410)' : 'enabled'}
              </dd>
            </dl>
          ) : (
            <p class="muted">no webhook configured</p>
          )}
        </div>
      </div>
      {s && (
        <Chart
          title={range === '24h' ? 'Last 24 hours, per 10 minutes' : 'Last 30 days, per hour'}
          height={180}
          x={s.x}
          series={METRICS.map(([, label, stroke], i) => ({ label, stroke, values: s.values[i]! }))}
        />
      )}
    </article>
  );
}

function TenantsPanel() {
  const [range, setRange] = useState<'24h' | '30d'>('24h');
  const tenants = usePoll(async () => (await get<TenantSummary[]>('/v1/admin/console/tenants')).data, 5000);
  return (
    <section id="panel-tenants">
      <div class="row toolbar">
        <span>Charts over</span>
        {(['24h', '30d'] as const).map((r) => (
          <button
            key={r}
            type="button"
            class={r === range ? '' : 'secondary'}
            id={`range-${r}`}
            onClick={() => setRange(r)}
          >
            {r === '24h' ? '24 hours' : '30 days'}
          </button>
        ))}
      </div>
      {tenants.error && <p class="error">{tenants.error}</p>}
      <div class="grid">
        {(tenants.value ?? []).map((t) => (
          <TenantCard key={t.tenant} t={t} range={range} />
        ))}
      </div>
    </section>
  );
}

function MessagesPanel() {
  const [form, setForm] = useState({ tenant: '', status: '', from: '', to: '', last: '', reference: '' });
  const [results, setResults] = useState<Message[] | undefined>();
  const [selected, setSelected] = useState<Message | undefined>();
  const [error, setError] = useState<string | undefined>();
  const field = (
    name: keyof typeof form,
    label: string,
    type: 'text' | 'datetime-local' = 'text',
    placeholder = '',
  ) => (
    <label>
      {label}
      {type === 'text' ? (
        <input
          name={name}
          type="text"
          placeholder={placeholder}
          value={form[name]}
          onInput={(e) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })}
        />
      ) : (
        <input
          name={name}
          type="datetime-local"
          value={form[name]}
          onInput={(e) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })}
        />
      )}
    </label>
  );
  const search = async () => {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) {
      if (!value) continue;
      query.set(key, key === 'from' || key === 'to' ? new Date(value).toISOString() : value);
    }
    setSelected(undefined);
    try {
      setResults((await get<Message[]>(`/v1/admin/console/messages?${query.toString()}`)).data ?? []);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const open = async (id: string) => {
    try {
      setSelected((await get<Message>(`/v1/admin/console/messages/${encodeURIComponent(id)}`)).data);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section id="panel-messages">
      <form
        class="search"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        {field('tenant', 'Tenant')}
        <label>
          Status
          <select
            name="status"
            value={form.status}
            onChange={(e) => setForm({ ...form, status: (e.target as HTMLSelectElement).value })}
          >
            <option value="">any</option>
            {[
              'queued',
              'scheduled',
              'unknown',
              'sent',
              'dispatched',
              'delivered',
              'failed',
              'rejected',
              'expired',
              'aborted',
              'delivery_unknown',
            ].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {field('from', 'From', 'datetime-local')}
        {field('to', 'To', 'datetime-local')}
        {field('last', 'Last digits', 'text', 'e.g. 5678')}
        {field('reference', 'Reference')}
        <button type="submit" id="search">
          Search
        </button>
      </form>
      {error && <p class="error">{error}</p>}
      {results && (
        <table id="results">
          <thead>
            <tr>
              <th>created</th>
              <th>tenant</th>
              <th>to</th>
              <th>status</th>
              <th>reference</th>
              <th>segments</th>
            </tr>
          </thead>
          <tbody>
            {results.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  no message matches
                </td>
              </tr>
            )}
            {results.map((m) => (
              <tr key={m.id} class="clickable" data-id={m.id} onClick={() => void open(m.id)}>
                <td>{time(m.createdAt)}</td>
                <td>{m.tenantId}</td>
                <td class="num">{m.to}</td>
                <td>
                  <span class={`badge status-${m.status}`}>{m.status}</span>
                </td>
                <td>{m.reference ?? ''}</td>
                <td class="num">{m.segments}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected && (
        <article class="card" id="message-detail">
          <h3>
            Message <code>{selected.id}</code> to <span class="num">{selected.to}</span>
          </h3>
          <ol class="history">
            {(selected.history ?? []).map((h, i) => (
              <li key={i}>
                <span class={`badge status-${h.status}`}>{h.status}</span> {time(h.at)} {h.detail ?? ''}
              </li>
            ))}
          </ol>
        </article>
      )}
    </section>
  );
}

interface LiveEvent {
  key: number;
  type: string;
  tenant: string;
  summary: string;
}

function LivePanel() {
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [heldCount, setHeldCount] = useState(0);
  const pausedRef = useRef(false);
  const held = useRef<LiveEvent[]>([]);
  const seq = useRef(0);
  useEffect(
    () =>
      stream('/v1/admin/console/events', (type, data) => {
        const parsed = JSON.parse(data) as { tenant: string; body: { data?: Record<string, unknown> } };
        const d = parsed.body.data ?? {};
        const summary = [d.status, d.to ?? d.from, d.reference]
          .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
          .join(' · ');
        const event = { key: (seq.current += 1), type, tenant: parsed.tenant, summary };
        if (pausedRef.current) {
          held.current.push(event);
          setHeldCount(held.current.length);
        } else setEvents((list) => [event, ...list].slice(0, 200));
      }),
    [],
  );
  const toggle = () => {
    pausedRef.current = !pausedRef.current;
    setPaused(pausedRef.current);
    if (!pausedRef.current) {
      const add = held.current.reverse();
      held.current = [];
      setHeldCount(0);
      setEvents((list) => [...add, ...list].slice(0, 200));
    }
  };
  return (
    <section id="panel-live">
      <div class="row toolbar">
        <button type="button" id="pause" onClick={toggle}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <span class="muted">{paused ? `paused: ${heldCount} held` : 'live: every tenant’s events'}</span>
      </div>
      <table id="events">
        <thead>
          <tr>
            <th>tenant</th>
            <th>event</th>
            <th>details</th>
          </tr>
        </thead>
        <tbody>
          {events.length === 0 && (
            <tr>
              <td colSpan={3} class="muted">
                waiting for events…
              </td>
            </tr>
          )}
          {events.map((e) => (
            <tr key={e.key}>
              <td>{e.tenant}</td>
              <td>{e.type}</td>
              <td class="num">{e.summary}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function DeadLettersPanel(props: { tenants: string[] }) {
  const dead = usePoll(
    async () => (await get<DeadLetter[]>('/v1/admin/webhooks/dead-letters')).data ?? [],
    5000,
  );
  const hooks = usePoll(async () => (await get<Webhook[]>('/v1/admin/console/webhooks')).data ?? [], 5000);
  const unrouted = usePoll(
    async () => (await get<Unrouted[]>('/v1/admin/console/inbound/unrouted')).data ?? [],
    5000,
  );
  const [inspected, setInspected] = useState<{ id: number; payload: string } | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [assignTo, setAssignTo] = useState<Record<string, string>>({});
  const act = async (what: () => Promise<unknown>, done: string) => {
    setInspected(undefined);
    try {
      await what();
      setNote(done);
    } catch (e) {
      setNote(errorText(e));
    }
    dead.refresh();
    hooks.refresh();
    unrouted.refresh();
  };
  return (
    <section id="panel-dead">
      {note && (
        <p class="note" id="dead-note">
          {note}
        </p>
      )}
      <h3>Dead letters</h3>
      <table id="dead-letters">
        <thead>
          <tr>
            <th>id</th>
            <th>tenant</th>
            <th>event</th>
            <th>attempts</th>
            <th>last answer</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(dead.value ?? []).length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                no dead letters
              </td>
            </tr>
          )}
          {(dead.value ?? []).map((d) => (
            <tr key={d.id} data-id={d.id}>
              <td>{d.id}</td>
              <td>{d.tenantId}</td>
              <td>{d.type}</td>
              <td class="num">{d.attempts}</td>
              <td>{d.lastStatus ?? d.lastError ?? ''}</td>
              <td>
                <div class="actions">
                  <button
                    type="button"
                    class="secondary inspect"
                    onClick={() =>
                      void get<{ payload: string }>(`/v1/admin/console/dead-letters/${d.id}`).then((r) =>
                        setInspected({ id: d.id, payload: r.data?.payload ?? '' }),
                      )
                    }
                  >
                    Inspect
                  </button>
                  <button
                    type="button"
                    class="replay"
                    onClick={() =>
                      void act(
                        () => post(`/v1/admin/webhooks/dead-letters/${d.id}/replay`),
                        `Dead letter ${d.id} is queued again.`,
                      )
                    }
                  >
                    Replay
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {inspected && (
        <pre class="payload" id="inspected">
          {JSON.stringify(JSON.parse(inspected.payload), null, 2)}
        </pre>
      )}
      <h3>Webhooks</h3>
      <table id="webhooks">
        <tbody>
          {(hooks.value ?? []).map((w) => (
            <tr key={w.tenant}>
              <td>{w.tenant}</td>
              <td>{w.host}</td>
              <td class={w.disabledAt ? 'bad' : 'good'}>
                {w.disabledAt ? `disabled ${time(w.disabledAt)} (${w.reason ?? ''})` : 'enabled'}
              </td>
              <td>
                {w.disabledAt && (
                  <button
                    type="button"
                    onClick={() =>
                      void act(
                        () => post(`/v1/admin/webhooks/${encodeURIComponent(w.tenant)}/enable`),
                        `Webhook of ${w.tenant} re-enabled.`,
                      )
                    }
                  >
                    Re-enable
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Unrouted inbound</h3>
      <table id="unrouted">
        <tbody>
          {(unrouted.value ?? []).length === 0 && (
            <tr>
              <td class="muted">nothing waiting</td>
            </tr>
          )}
          {(unrouted.value ?? []).map((u) => (
            <tr key={u.id}>
              <td>{time(u.receivedAt)}</td>
              <td class="num">{u.from}</td>
              <td>{u.text}</td>
              <td>{u.routedBy}</td>
              <td>
                <div class="actions">
                  <select
                    value={assignTo[u.id] ?? props.tenants[0] ?? ''}
                    onChange={(e) =>
                      setAssignTo({ ...assignTo, [u.id]: (e.target as HTMLSelectElement).value })
                    }
                  >
                    {props.tenants.map((t) => (
                      <option key={t} value={t}>
                        {t}
                      </option>
                    ))}
                  </select>
                  <button
                    type="button"
                    onClick={() =>
                      void act(
                        () =>
                          post(`/v1/admin/console/inbound/${encodeURIComponent(u.id)}/assign`, {
                            tenant: assignTo[u.id] ?? props.tenants[0],
                          }),
                        'Assigned.',
                      )
                    }
                  >
                    Assign
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function App() {
  const [signed, setSigned] = useState(false);
  const [panel, setPanel] = useState<Panel>('account');
  const [tenants, setTenants] = useState<string[]>([]);
  useEffect(() => {
    if (!signed) return;
    void get<TenantSummary[]>('/v1/admin/console/tenants').then((r) =>
      setTenants((r.data ?? []).map((t) => t.tenant)),
    );
  }, [signed]);
  if (!signed) return <SignIn onSignedIn={() => setSigned(true)} />;
  return (
    <>
      <header>
        <strong>smsgate console</strong>
        <nav>
          {PANELS.map(([id, label]) => (
            <button
              key={id}
              type="button"
              id={`tab-${id}`}
              class={id === panel ? 'tab active' : 'tab'}
              onClick={() => setPanel(id)}
            >
              {label}
            </button>
          ))}
        </nav>
        <button
          type="button"
          class="secondary"
          id="sign-out"
          onClick={() => {
            setToken(undefined);
            setSigned(false);
          }}
        >
          Sign out
        </button>
      </header>
      <div class="content">
        {panel === 'account' && <AccountPanel />}
        {panel === 'tenants' && <TenantsPanel />}
        {panel === 'messages' && <MessagesPanel />}
        {panel === 'live' && <LivePanel />}
        {panel === 'dead' && <DeadLettersPanel tenants={tenants} />}
      </div>
    </>
  );
}

const root = document.getElementById('app') as HTMLElement;
root.textContent = ''; // the static "Loading…" line
render(<App />, root);
