import type { Db, MessagesTable } from './database';
import { appendEventsPlan, type StoredEvent, type WebhookTenants } from './event-repository';
import { createGroupCommit } from './group-commit';
import { MESSAGE_STATUSES, statusRank } from './message-status';
import { insertText, listOf, placeholderOf, type Placeholder } from './statements';
import { isPostgres } from './dialect';
import { runPlan, runRead, type Plan, type PlanDialect, type Step } from './write-plan';
import { ownedBy } from './subject';

/** A message as the ledger keeps it: one row per recipient. */
export interface MessageRecord {
  id: string;
  tenantId: string;
  batchId: string;
  recipient: string;
  sender: string;
  text: string;
  segments: number;
  encoding: string;
  status: string;
  reference: string | null;
  providerMessageId: string | null;
  error: string | null;
  scheduledAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** The sending token's `sub`; null when it had none (backends, forms' replies aside). */
  subject?: string | null;
  /** `marketing` or `transactional` (null: sent before purposes existed). */
  purpose?: string | null;
}

export interface StatusChange {
  status: string;
  detail: string | null;
  at: string;
}

export interface MessageOutcome {
  id: string;
  status: string;
  providerMessageId?: string | null;
  error?: string | null;
}

/** What recording outcomes changed: the messages that moved, and their events. */
export interface RecordedOutcomes {
  /** Ids of the messages whose status moved; the others already had a later one (e.g. from a report). */
  applied: string[];
  events: StoredEvent[];
}

export interface MessageFilter {
  status?: string | undefined;
  tenantId?: string | undefined;
}

/** A durable send to queue with its messages (the batch id is the messages'). */
export interface NewSendJob {
  tenantId: string;
  request: string;
  expiresAt: string;
}

export interface MessageRepository {
  /** Records a batch of new messages and their first status in one transaction (with its send job, if any). */
  insertBatch(messages: MessageRecord[], job?: NewSendJob): Promise<void>;
  /**
   * Applies outcomes to messages in one transaction, each only if it moves the message forward
   * (a delivery report may have come first) and keeping a provider id already known; with
   * `announce`, each applied one also becomes a `message.status` event (and outbox row) in it.
   */
  recordOutcomes(
    outcomes: MessageOutcome[],
    at: string,
    announce?: { messages: MessageRecord[]; hasWebhook: WebhookTenants },
  ): Promise<RecordedOutcomes>;
  /** The messages of one batch, in recipient order. */
  findBatch(batchId: string): Promise<MessageRecord[]>;
  /** `subject`: only a message with this subject (null: none); undefined: any of the tenant's. */
  findForTenant(
    tenantId: string,
    id: string,
    subject?: string | null,
  ): Promise<(MessageRecord & { history: StatusChange[] }) | undefined>;
  /**
   * A tenant's messages, newest first (in the order the ledger recorded them), `size` from
   * `offset`. The total is the tenant's message counter, and the page a seek by position, so
   * neither depends on how many messages the tenant has or how deep the page is.
   */
  listForTenant(
    tenantId: string,
    page: { offset: number; size: number },
    subject?: string | null,
  ): Promise<{ items: MessageRecord[]; total: number }>;
  /**
   * The next `size` messages older than message `after` (a keyset cursor); `newer` is how many
   * of the tenant's messages come before the first item (to number its page). Undefined when
   * `after` is not one of the tenant's messages.
   */
  listAfter(
    tenantId: string,
    after: string,
    size: number,
    subject?: string | null,
  ): Promise<{ items: MessageRecord[]; total: number; newer: number } | undefined>;
  /** Every tenant's messages (for operators), optionally by status and tenant, newest first. */
  listAll(
    filter: MessageFilter,
    page: { offset: number; size: number },
  ): Promise<{ items: MessageRecord[]; total: number }>;
}

interface InsertJob {
  messages: MessageRecord[];
  job: NewSendJob | undefined;
}

interface OutcomeJob {
  outcomes: MessageOutcome[];
  at: string;
  announce: { messages: MessageRecord[]; hasWebhook: WebhookTenants } | undefined;
}

/** One write of the ledger's group commit: a send's rows to insert, or outcomes to record. */
type LedgerJob = { insert: InsertJob } | { outcome: OutcomeJob };

export function createMessageRepository(db: Db): MessageRepository {
  // Concurrent sends' inserts and outcomes are written in one transaction per group (group
  // commit): a send's promise settles only once its rows are committed. On SQLite the group's
  // statements run synchronously on the handle, prepared once (write-plan.ts), and inserts and
  // outcomes share one group: transactions are one at a time there anyway, and the pages both
  // touch (the newest messages, their events, the indexes) go to the WAL once a group. That halved
  // the transactions a send and saved a few per cent of its CPU at most. On PostgreSQL they are two
  // groups, written at once on two connections: a transaction there waits on round trips, and with
  // one shared group capacity was lower in both pairs measured (docs/benchmarks.md, "Twelfth round").
  // A group holds at most 64 jobs (of either kind): 64 one-recipient jobs stay under
  // OWN_TURN_COMMIT_ROWS and commit in their turn.
  const group = () =>
    createGroupCommit<LedgerJob, RecordedOutcomes | undefined>(
      (jobs) => runPlan(db, (dialect) => writeLedger(dialect, jobs)),
      {
        maxJobs: 64,
        maxRows: MAX_GROUP_ROWS,
        rowsOf: (job) => ('insert' in job ? job.insert.messages.length : job.outcome.outcomes.length),
      },
    );
  const insert = group();
  const record = isPostgres(db) ? group() : insert;

  return {
    async insertBatch(messages, job) {
      if (messages.length === 0) return;
      await insert({ insert: { messages, job } });
    },

    async recordOutcomes(outcomes, at, announce) {
      if (outcomes.length === 0) return { applied: [], events: [] };
      const recorded = await record({ outcome: { outcomes, at, announce } });
      if (recorded === undefined) throw new Error('the ledger returned no result for an outcome');
      return recorded;
    },

    async findBatch(batchId) {
      const rows = await db
        .selectFrom('messages')
        .select(MESSAGE_COLUMNS)
        .where('batch_id', '=', batchId)
        .orderBy('id')
        .execute();
      return rows.map(fromRow);
    },

    async findForTenant(tenantId, id, subject) {
      const row = await db
        .selectFrom('messages')
        .select(MESSAGE_COLUMNS)
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .executeTakeFirst();
      if (!row) return undefined;
      const history = await db
        .selectFrom('message_events')
        .select(['status', 'detail', 'at'])
        .where('message_id', '=', id)
        .orderBy('id')
        .execute();
      return { ...fromRow(row), history };
    },

    async listForTenant(tenantId, page, subject) {
      if (subject !== undefined) return listForSubject(db, tenantId, subject, page);
      // Positions are dense (1 … total, in commit order), so page N starts at a known one: the
      // page and the counter in one statement (one round trip on PostgreSQL). A page past the
      // end has no row to carry the total, and asks the counter alone.
      const rows = await runRead(db, {
        text: pageText(placeholderOf(db)),
        values: [tenantId, tenantId, tenantId, page.offset, page.size],
      });
      const total = rows.length > 0 ? Number(rows[0]!.total_count) : await countOf(db, tenantId);
      return { items: rows.map((row) => fromRow(row as unknown as MessageRow)), total };
    },

    async listAfter(tenantId, after, size, subject) {
      const cursor = await db
        .selectFrom('messages')
        .select('tenant_seq')
        .where('tenant_id', '=', tenantId)
        .where('id', '=', after)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .executeTakeFirst();
      if (cursor?.tenant_seq == null) return undefined;
      const position = Number(cursor.tenant_seq);
      const rows = await db
        .selectFrom('messages')
        .select(MESSAGE_COLUMNS)
        .where('tenant_id', '=', tenantId)
        .where('tenant_seq', '<', position)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .orderBy('tenant_seq', 'desc')
        .limit(size)
        .execute();
      if (subject === undefined) {
        const total = await countOf(db, tenantId);
        return { items: rows.map(fromRow), total, newer: total - position + 1 };
      }
      // One end user's rows: counted over that user's rows alone (see listForSubject).
      const counts = await db
        .selectFrom('messages')
        .select((eb) => [
          eb.fn.countAll<number | string>().as('total'),
          eb.fn
            .sum<number | string>(eb.case().when('tenant_seq', '>=', position).then(1).else(0).end())
            .as('newer'),
        ])
        .where('tenant_id', '=', tenantId)
        .where(ownedBy(subject))
        .executeTakeFirstOrThrow();
      return { items: rows.map(fromRow), total: Number(counts.total), newer: Number(counts.newer ?? 0) };
    },

    async listAll(filter, page) {
      const filtered = db
        .selectFrom('messages')
        .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status as string))
        .$if(filter.tenantId !== undefined, (q) => q.where('tenant_id', '=', filter.tenantId as string));
      const { total } = await filtered
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .executeTakeFirstOrThrow();
      const rows = await filtered
        .select(MESSAGE_COLUMNS)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return { items: rows.map(fromRow), total: Number(total) };
    },
  };
}

/** The columns of a message row, named (a `select *` would also return columns added later). */
const MESSAGE_COLUMNS = [
  'id',
  'tenant_id',
  'batch_id',
  'recipient',
  'sender',
  'text',
  'segments',
  'encoding',
  'status',
  'reference',
  'provider_message_id',
  'error',
  'scheduled_at',
  'created_at',
  'updated_at',
  'subject',
  'purpose',
] as const satisfies readonly (keyof MessagesTable)[];

const INSERT_COLUMNS = [...MESSAGE_COLUMNS, 'tenant_seq'] as const;
const EVENT_COLUMNS = ['message_id', 'status', 'detail', 'at'] as const;
const JOB_COLUMNS = [
  'batch_id',
  'tenant_id',
  'request',
  'state',
  'attempts',
  'next_attempt_at',
  'lease_until',
  'expires_at',
  'last_error',
  'created_at',
  'updated_at',
] as const;

type MessageRow = Omit<MessagesTable, 'tenant_seq'>;

const pageTexts = new Map<Placeholder, string>();

/** A tenant's page of messages, newest first, each row with the tenant's counter (`total_count`). */
function pageText(placeholder: Placeholder): string {
  let text = pageTexts.get(placeholder);
  if (text === undefined) {
    const p = placeholder;
    const counter = `(select "messages" from "tenant_message_counts" where "tenant_id" = `;
    text =
      `select ${MESSAGE_COLUMNS.map((c) => `"${c}"`).join(', ')}, ${counter}${p(1)}) as "total_count"` +
      ` from "messages" where "tenant_id" = ${p(2)} and "tenant_seq" <= ${counter}${p(3)}) - ${p(4)}` +
      ` order by "tenant_seq" desc limit ${p(5)}`;
    pageTexts.set(placeholder, text);
  }
  return text;
}

/** Messages per group commit: a 1,000-number send commits alone, 64 one-number jobs together. */
const MAX_GROUP_ROWS = 1000;

/** Rows per multi-row statement: 200 x 18 parameters, far under both dialects' limits. */
const ROWS_PER_STATEMENT = 200;

/**
 * One end user's messages (a token with `sms:read`): counted and paged over that user's rows alone
 * (index on tenant and subject), in the tenant's ledger order. An end user's share of a tenant is
 * small, so the count and offset stay cheap where the tenant-wide list needs the counter.
 */
async function listForSubject(
  db: Db,
  tenantId: string,
  subject: string | null,
  page: { offset: number; size: number },
): Promise<{ items: MessageRecord[]; total: number }> {
  const { total } = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number | string>().as('total'))
    .where('tenant_id', '=', tenantId)
    .where(ownedBy(subject))
    .executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom('messages')
    .select(MESSAGE_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where(ownedBy(subject))
    .orderBy('tenant_seq', 'desc')
    .limit(page.size)
    .offset(page.offset)
    .execute();
  return { items: rows.map(fromRow), total: Number(total) };
}

async function countOf(db: Db, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('tenant_message_counts')
    .select('messages')
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row ? Number(row.messages) : 0;
}

/**
 * Adds `count` to the tenant's counter and returns its new value. The upsert takes the counter's
 * row lock on PostgreSQL until commit, so a tenant's inserts are numbered one transaction after
 * another: positions stay dense, and every committed position has all lower ones committed too.
 */
function* advanceCounter(placeholder: Placeholder, tenantId: string, count: number): Plan<number> {
  const text = insertText(
    placeholder,
    'tenant_message_counts',
    ['tenant_id', 'messages'],
    1,
    ' on conflict ("tenant_id") do update set "messages" = "tenant_message_counts"."messages" + excluded."messages" returning "messages"',
  );
  const rows = yield { text, values: [tenantId, count] };
  return Number(rows[0]?.messages);
}

/**
 * A group's inserts, then its outcomes, in one transaction; each job's result in its place. An
 * outcome is recorded only after its message's insert has committed (a send awaits it), so no
 * outcome of a group names a message inserted in the same group; the inserts go first regardless.
 */
function* writeLedger(dialect: PlanDialect, jobs: LedgerJob[]): Plan<(RecordedOutcomes | undefined)[]> {
  const inserts = jobs.flatMap((job) => ('insert' in job ? [job.insert] : []));
  const outcomes = jobs.flatMap((job) => ('outcome' in job ? [job.outcome] : []));
  if (inserts.length > 0) yield* writeBatches(dialect, inserts);
  const recorded = outcomes.length > 0 ? yield* writeOutcomes(dialect, outcomes) : [];
  let next = 0;
  return jobs.map((job) => ('outcome' in job ? recorded[next++] : undefined));
}

/** Inserts several sends' messages (and send jobs), in the group's transaction. */
function* writeBatches({ placeholder }: PlanDialect, jobs: InsertJob[]): Plan<void> {
  const queued = jobs.flatMap(({ messages, job }) => (job ? [{ first: messages[0]!, job }] : []));
  for (const chunk of chunks(queued, ROWS_PER_STATEMENT)) {
    const values = chunk.flatMap(({ first, job }) => [
      first.batchId,
      job.tenantId,
      job.request,
      'pending',
      0,
      first.createdAt,
      null,
      job.expiresAt,
      null,
      first.createdAt,
      first.createdAt,
    ]);
    yield {
      text: insertText(placeholder, 'send_jobs', JOB_COLUMNS, chunk.length),
      values,
      rows: chunk.length,
    };
  }
  const messages = jobs.flatMap((j) => j.messages);
  // One counter step per tenant, in tenant order (two groups on PostgreSQL never wait on each
  // other's counters in opposite orders).
  const perTenant = new Map<string, number>();
  for (const m of messages) perTenant.set(m.tenantId, (perTenant.get(m.tenantId) ?? 0) + 1);
  const nextSeq = new Map<string, number>();
  for (const tenantId of [...perTenant.keys()].sort()) {
    const count = perTenant.get(tenantId) as number;
    nextSeq.set(tenantId, (yield* advanceCounter(placeholder, tenantId, count)) - count + 1);
  }
  for (const chunk of chunks(messages, ROWS_PER_STATEMENT)) {
    const values: unknown[] = [];
    for (const m of chunk) {
      const seq = nextSeq.get(m.tenantId) as number;
      nextSeq.set(m.tenantId, seq + 1);
      values.push(...rowValues(m), seq);
    }
    yield {
      text: insertText(placeholder, 'messages', INSERT_COLUMNS, chunk.length),
      values,
      rows: chunk.length,
    };
    yield {
      text: insertText(placeholder, 'message_events', EVENT_COLUMNS, chunk.length),
      values: chunk.flatMap((m) => [m.id, m.status, null, m.createdAt]),
      rows: chunk.length,
    };
  }
}

/**
 * Applies several callers' outcomes in one transaction: one conditional UPDATE per
 * status, error and time (at most 200 messages each), so a 1000-number send, or 50 concurrent
 * one-number sends, take a handful of statements. Callers naming the same message are applied
 * one after the other, as they would be alone.
 */
function* writeOutcomes(dialect: PlanDialect, jobs: OutcomeJob[]): Plan<RecordedOutcomes[]> {
  const { placeholder } = dialect;
  const applied: MessageOutcome[][] = jobs.map(() => []);
  for (const round of disjointRounds(jobs)) {
    const moved = new Set<string>();
    const groups = new Map<string, { at: string; outcomes: MessageOutcome[] }>();
    for (const i of round) {
      const { outcomes, at } = jobs[i] as OutcomeJob;
      for (const outcome of outcomes) {
        const key = JSON.stringify([outcome.status, outcome.error ?? null, at]);
        const group = groups.get(key);
        if (group) group.outcomes.push(outcome);
        else groups.set(key, { at, outcomes: [outcome] });
      }
    }
    for (const { at, outcomes } of groups.values()) {
      for (const chunk of chunks(outcomes, ROWS_PER_STATEMENT)) {
        for (const id of yield* applyOutcomes(placeholder, chunk, at)) moved.add(id);
      }
    }
    for (const i of round) {
      applied[i] = (jobs[i] as OutcomeJob).outcomes.filter((o) => moved.has(o.id));
    }
  }
  const history = jobs.flatMap((job, i) =>
    (applied[i] as MessageOutcome[]).map((o) => [o.id, o.status, o.error ?? null, job.at]),
  );
  for (const chunk of chunks(history, ROWS_PER_STATEMENT)) {
    yield {
      text: insertText(placeholder, 'message_events', EVENT_COLUMNS, chunk.length),
      values: chunk.flat(),
      rows: chunk.length,
    };
  }
  const results: RecordedOutcomes[] = [];
  for (const [i, job] of jobs.entries()) {
    const done = applied[i] as MessageOutcome[];
    const ids = done.map((o) => o.id);
    if (!job.announce) {
      results.push({ applied: ids, events: [] });
      continue;
    }
    const byId = new Map(job.announce.messages.map((m) => [m.id, m]));
    const events = done.flatMap((o) => {
      const message = byId.get(o.id);
      if (!message) return [];
      const data = {
        messageId: o.id,
        status: o.status,
        to: message.recipient,
        reference: message.reference,
        batchId: message.batchId,
        error: o.error ?? null,
        at: job.at,
      };
      return [
        {
          tenantId: message.tenantId,
          subject: message.subject ?? null,
          type: 'message.status' as const,
          data,
        },
      ];
    });
    const stored = yield* appendEventsPlan(dialect, events, job.at, job.announce.hasWebhook);
    results.push({ applied: ids, events: stored });
  }
  return results;
}

/** Job indexes in rounds whose jobs name no message in common (kept in arrival order). */
function disjointRounds(jobs: OutcomeJob[]): number[][] {
  const rounds: number[][] = [];
  let round: number[] = [];
  let seen = new Set<string>();
  for (const [i, job] of jobs.entries()) {
    if (job.outcomes.some((o) => seen.has(o.id))) {
      rounds.push(round);
      round = [];
      seen = new Set();
    }
    round.push(i);
    for (const o of job.outcomes) seen.add(o.id);
  }
  if (round.length > 0) rounds.push(round);
  return rounds;
}

/**
 * One conditional UPDATE for outcomes sharing a status, error and time: only rows it moves
 * forward (the WHERE is the rank check, so a report committed meanwhile is never overwritten),
 * keeping a provider id already known. Returns the ids it changed.
 */
function* applyOutcomes(placeholder: Placeholder, chunk: MessageOutcome[], at: string): Plan<string[]> {
  const step = outcomeUpdate(placeholder, chunk, at);
  if (step === undefined) return [];
  const rows = yield step;
  return rows.map((row) => row.id as string);
}

/**
 * The UPDATE of applyOutcomes, or undefined when no status lies below this one.
 *
 * The rows are found by their ids alone: the rank check is written so that no index can serve it
 * (`coalesce` of a NOT NULL column is the column). SQLite keeps no statistics here; offered the
 * ids and the statuses, it walked every pending message through `messages_status_created` for
 * each statement instead of looking up the 200 ids, so recording one send's outcomes cost in
 * proportion to the whole backlog (docs/benchmarks.md, ninth round).
 */
export function outcomeUpdate(
  placeholder: Placeholder,
  chunk: MessageOutcome[],
  at: string,
): Step | undefined {
  const { status, error } = chunk[0] as MessageOutcome;
  const lower = MESSAGE_STATUSES.filter((s) => statusRank(s) < statusRank(status));
  if (lower.length === 0) return undefined;
  const named = chunk.filter((o) => o.providerMessageId);
  const values: unknown[] = [status, error ?? null, at];
  let text = `update "messages" set "status" = ${placeholder(1)}, "error" = ${placeholder(2)}, "updated_at" = ${placeholder(3)}`;
  if (named.length > 0) {
    const cases = named.map((o) => {
      values.push(o.id, o.providerMessageId);
      return `when ${placeholder(values.length - 1)} then ${placeholder(values.length)}`;
    });
    text += `, "provider_message_id" = coalesce("provider_message_id", case "id" ${cases.join(' ')} end)`;
  }
  text += ` where "id" in (${listOf(placeholder, values.length + 1, chunk.length)})`;
  values.push(...chunk.map((o) => o.id));
  text += ` and coalesce("status", '') in (${listOf(placeholder, values.length + 1, lower.length)}) returning "id"`;
  values.push(...lower);
  return { text, values, rows: chunk.length };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A message's values in MESSAGE_COLUMNS order. */
function rowValues(m: MessageRecord): unknown[] {
  return [
    m.id,
    m.tenantId,
    m.batchId,
    m.recipient,
    m.sender,
    m.text,
    m.segments,
    m.encoding,
    m.status,
    m.reference,
    m.providerMessageId,
    m.error,
    m.scheduledAt,
    m.createdAt,
    m.updatedAt,
    m.subject ?? null,
    m.purpose ?? null,
  ];
}

function fromRow(row: MessageRow): MessageRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    batchId: row.batch_id,
    recipient: row.recipient,
    sender: row.sender,
    text: row.text,
    segments: Number(row.segments),
    encoding: row.encoding,
    status: row.status,
    reference: row.reference,
    providerMessageId: row.provider_message_id,
    error: row.error,
    scheduledAt: row.scheduled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    subject: row.subject ?? null,
    purpose: row.purpose ?? null,
  };
}
