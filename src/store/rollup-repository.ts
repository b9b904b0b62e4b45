import { sql } from 'kysely';
import type { Db } from './database';
import { isPostgres } from './dialect';

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
  /** Minute rows folded into hourly rows (and deleted). */
  compacted: number;
  /** Hourly rows deleted for age. */
  pruned: number;
}

/**
 * The console's counters: written per minute, folded into hours once older than the minute
 * retention, deleted once older than the hour retention, so the table stays bounded whatever the
 * traffic (tenants × metrics × (minutes kept + hours kept) rows at most).
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
  /** Folds minute rows before `minutesBefore` into hours; deletes hour rows before `hoursBefore`. */
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
              .columns(['tenant_id', 'bucket', 'granularity', 'metric'])
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
        .where('bucket', '>=', fromBucket)
        .$if(metrics !== undefined && metrics.length > 0, (q) => q.where('metric', 'in', metrics ?? []))
        .groupBy([bucket, 'metric'])
        .orderBy('b')
        .execute();
      return rows.map((row) => ({ bucket: row.b, metric: row.metric, value: Number(row.v) }));
    },

    async compact(minutesBefore, hoursBefore) {
      return db.transaction().execute(async (trx) => {
        // Replicas sharing PostgreSQL compact one at a time: the second then finds nothing to fold.
        if (isPostgres(db)) await sql`select pg_advisory_xact_lock(7316001)`.execute(trx);
        await sql`
          insert into usage_rollups (tenant_id, bucket, granularity, metric, value)
          select tenant_id, substr(bucket, 1, 13) || ':00', 'h', metric, sum(value)
          from usage_rollups
          where granularity = 'm' and bucket < ${minutesBefore}
          group by tenant_id, substr(bucket, 1, 13), metric
          on conflict (tenant_id, bucket, granularity, metric)
          do update set value = usage_rollups.value + excluded.value`.execute(trx);
        const folded = await trx
          .deleteFrom('usage_rollups')
          .where('granularity', '=', 'm')
          .where('bucket', '<', minutesBefore)
          .executeTakeFirst();
        const pruned = await trx
          .deleteFrom('usage_rollups')
          .where('granularity', '=', 'h')
          .where('bucket', '<', hoursBefore)
          .executeTakeFirst();
        return { compacted: Number(folded.numDeletedRows), pruned: Number(pruned.numDeletedRows) };
      });
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

/** One row per (tenant, minute, metric), so one statement never names the same key twice. */
function mergeIncrements(increments: RollupIncrement[]) {
  const merged = new Map<string, { tenant_id: string; bucket: string; granularity: string; metric: string; value: number }>();
  for (const inc of increments) {
    if (inc.value === 0) continue;
    const key = `${inc.tenantId}\u0000${inc.minute}\u0000${inc.metric}`;
    const row = merged.get(key);
    if (row) row.value += inc.value;
    else
      merged.set(key, {
        tenant_id: inc.tenantId,
        bucket: inc.minute,
        granularity: 'm',
        metric: inc.metric,
        value: inc.value,
      });
  }
  return [...merged.values()];
}

/** The minute bucket of a time: `YYYY-MM-DDTHH:MM` in UTC. */
export function minuteBucket(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}
