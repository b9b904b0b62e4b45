import { sql } from 'kysely';
import type { Db } from './database';

/** One counter increment for one tenant (`*`: the account) and minute (`YYYY-MM-DDTHH:MM`, UTC). */
export interface RollupIncrement {
  tenantId: string;
  metric: string;
  minute: string;
  value: number;
}

/** Points of a series: `bucket` is the bucket's start, as long as the resolution asks. */
export interface RollupPoint {
  bucket: string;
  metric: string;
  value: number;
}

/** How finely a read groups: by hour (13 characters of the bucket), ten minutes (15) or minute (16). */
export type RollupResolution = 'hour' | 'tenMinutes' | 'minute';
const PREFIX: Record<RollupResolution, number> = { hour: 13, tenMinutes: 15, minute: 16 };

export interface CompactionResult {
  /** Minute rows deleted (their counts live on in the hourly rows). */
  compacted: number;
  /** Hourly rows deleted for age. */
  pruned: number;
}

/**
 * The console's counters: each increment is added to its minute's row and its hour's row in one
 * statement, so a 30-day chart reads 720 hourly rows per metric, never tens of thousands of minute
 * rows. Minute rows are deleted once older than the minute retention and hourly rows once older
 * than the hour retention, so the table stays bounded whatever the traffic (tenants × metrics ×
 * (minutes kept + hours kept) rows at most).
 */
export interface RollupRepository {
  /** Adds the increments (several replicas may add to the same minute: the upsert sums). */
  add(increments: RollupIncrement[]): Promise<void>;
  /** The tenant's counters from `fromBucket` on, summed per bucket of the resolution. */
  series(
    tenantId: string,
    fromBucket: string,
    resolution: RollupResolution,
    metrics?: string[],
  ): Promise<RollupPoint[]>;
  /** Deletes minute rows before `minutesBefore` and hour rows before `hoursBefore`. */
  compact(minutesBefore: string, hoursBefore: string): Promise<CompactionResult>;
  /** Rows held per granularity (for tests and the bench). */
  size(): Promise<{ minute: number; hour: number }>;
}

export function createRollupRepository(db: Db): RollupRepository {
  return {
    async add(increments) {
      const rows = mergeIncrements(increments);
      // 5 parameters a row: 150 rows stay under SQLite's bound-parameter limit.
      for (let i = 0; i < rows.length; i += 150) {
        await db
          .insertInto('usage_rollups')
          .values(rows.slice(i, i + 150))
          .onConflict((oc) =>
            oc
              .columns(['tenant_id', 'granularity', 'bucket', 'metric'])
              .doUpdateSet((eb) => ({ value: eb('usage_rollups.value', '+', eb.ref('excluded.value')) })),
          )
          .execute();
      }
    },

    async series(tenantId, fromBucket, resolution, metrics) {
      const length = PREFIX[resolution];
      const bucket = sql<string>`substr(bucket, 1, ${sql.lit(length)})`;
      const rows = await db
        .selectFrom('usage_rollups')
        .select([bucket.as('b'), 'metric', (eb) => eb.fn.sum<number | string>('value').as('v')])
        .where('tenant_id', '=', tenantId)
        .where('granularity', '=', resolution === 'hour' ? 'h' : 'm')
        .where('bucket', '>=', fromBucket)
        .$if(metrics !== undefined && metrics.length > 0, (q) => q.where('metric', 'in', metrics ?? []))
        .groupBy([bucket, 'metric'])
        .orderBy('b')
        .execute();
      return rows.map((row) => ({ bucket: row.b, metric: row.metric, value: Number(row.v) }));
    },

    async compact(minutesBefore, hoursBefore) {
      const folded = await db
        .deleteFrom('usage_rollups')
        .where('granularity', '=', 'm')
        .where('bucket', '<', minutesBefore)
        .executeTakeFirst();
      const pruned = await db
        .deleteFrom('usage_rollups')
        .where('granularity', '=', 'h')
        .where('bucket', '<', hoursBefore)
        .executeTakeFirst();
      return { compacted: Number(folded.numDeletedRows), pruned: Number(pruned.numDeletedRows) };
    },

    async size() {
      const rows = await db
        .selectFrom('usage_rollups')
        .select(['granularity', (eb) => eb.fn.countAll<number | string>().as('n')])
        .groupBy('granularity')
        .execute();
      const of = (g: string) => Number(rows.find((row) => row.granularity === g)?.n ?? 0);
      return { minute: of('m'), hour: of('h') };
    },
  };
}

/**
 * One row per (tenant, minute, metric) and per (tenant, hour, metric), so one statement never names
 * the same key twice.
 */
function mergeIncrements(increments: RollupIncrement[]) {
  const merged = new Map<
    string,
    { tenant_id: string; bucket: string; granularity: string; metric: string; value: number }
  >();
  for (const inc of increments) {
    if (inc.value === 0) continue;
    for (const [granularity, bucket] of [
      ['m', inc.minute],
      ['h', `${inc.minute.slice(0, 13)}:00`],
    ] as const) {
      const key = `${inc.tenantId}\u0000${granularity}${bucket}\u0000${inc.metric}`;
      const row = merged.get(key);
      if (row) row.value += inc.value;
      else
        merged.set(key, {
          tenant_id: inc.tenantId,
          bucket,
          granularity,
          metric: inc.metric,
          value: inc.value,
        });
    }
  }
  return [...merged.values()];
}

/** The minute bucket of a time: `YYYY-MM-DDTHH:MM` in UTC. */
export function minuteBucket(ms: number): string {
  // Asked on every counted request: the string of the current minute is built once per minute.
  const minute = Math.floor(ms / 60_000);
  if (minute !== lastMinute.minute) lastMinute = { minute, text: new Date(ms).toISOString().slice(0, 16) };
  return lastMinute.text;
}

let lastMinute = { minute: Number.NaN, text: '' };
