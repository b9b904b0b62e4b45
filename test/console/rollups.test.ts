import { sql } from 'kysely';
import { createConsoleRecorder, type ConsoleRecorder } from '../../src/console';
import { createLogger } from '../../src/observability';
import {
  createRollupRepository,
  minuteBucket,
  openSqliteDatabase,
  type Db,
  type RollupRepository,
} from '../../src/store';
import { ManualClock } from '../support/manual-clock';

const silent = createLogger({ level: 'silent', secrets: [] });
const DAY = 86_400_000;
const START = Date.parse('2026-10-01T00:00:00.000Z');

describe('minuteBucket', () => {
  it('names the minute of each time, also when times go back and forth across minutes', () => {
    const times = [
      '2026-10-01T00:00:59.999Z',
      '2026-10-01T00:01:00.000Z',
      '2026-10-01T00:00:00.000Z',
      '2026-12-31T23:59:30.000Z',
    ];
    for (const time of [...times, ...times.reverse()])
      expect(minuteBucket(Date.parse(time))).toBe(time.slice(0, 16));
  });
});

describe('console rollups', () => {
  let db: Db;
  let rollups: RollupRepository;
  let clock: ManualClock;
  let recorder: ConsoleRecorder;
  let depth = 0;

  beforeEach(async () => {
    db = await openSqliteDatabase(':memory:');
    rollups = createRollupRepository(db);
    clock = new ManualClock(START);
    recorder = createConsoleRecorder({
      rollups,
      clock,
      logger: silent,
      queueDepth: () => depth,
      flushIntervalMs: 5_000,
      minuteRetentionHours: 48,
      hourRetentionDays: 90,
    });
  });
  afterEach(async () => {
    await recorder.stop();
    await db.destroy();
  });

  it('adds counts per tenant and minute, summing what several flushes (or replicas) add', async () => {
    recorder.count('alpha', 'messages', 3);
    recorder.count('alpha', 'messages', 2);
    recorder.count('beta', 'segments', 4);
    await recorder.flush();
    recorder.count('alpha', 'messages');
    clock.advance(60_000);
    recorder.count('alpha', 'messages', 7);
    await recorder.flush();
    expect(await rollups.series('alpha', '2026-10-01T00:00', 'minute')).toEqual([
      { bucket: '2026-10-01T00:00', metric: 'messages', value: 6 },
      { bucket: '2026-10-01T00:01', metric: 'messages', value: 7 },
    ]);
    expect(await rollups.series('beta', '2026-10-01T00:00', 'hour')).toEqual([
      { bucket: '2026-10-01T00', metric: 'segments', value: 4 },
    ]);
  });

  it('keeps the last 5 minutes of provider calls, 429s, waits and queue depth per second', () => {
    depth = 4;
    recorder.providerCall('ok');
    recorder.providerCall('http_429');
    recorder.admitted('alpha', 250);
    clock.advance(1_000);
    depth = 1;
    recorder.providerCall('ok');
    const live = recorder.live();
    expect(live).toHaveLength(300);
    expect(live.at(-2)).toEqual({
      at: START,
      providerCalls: 2,
      provider429: 1,
      maxWaitMs: 250,
      queueDepth: 4,
    });
    expect(live.at(-1)).toMatchObject({ at: START + 1000, providerCalls: 1, provider429: 0, queueDepth: 1 });
    clock.advance(300_000);
    expect(recorder.live().every((s) => s.providerCalls === 0)).toBe(true);
  });

  it('a month of per-minute data for 50 tenants stays bounded: minutes pruned after 48 h, hours kept, as the clock moves', async () => {
    /**
     * The 6 hours starting now, one count a minute for each of 50 tenants, as `add` writes them:
     * 18,000 minute rows and 300 hourly rows (written in SQL here: through `add` it takes minutes).
     */
    const addHours = async (at: number) => {
      await sql`
        with recursive minutes(n) as (select 0 union all select n + 1 from minutes where n < 359),
        tenants(t) as (select 0 union all select t + 1 from tenants where t < 49)
        insert into usage_rollups (tenant_id, bucket, granularity, metric, value)
        select 'tenant-' || t, strftime('%Y-%m-%dT%H:%M', ${at / 1000} + n * 60, 'unixepoch'), 'm', 'messages', 1
        from tenants, minutes where true`.execute(db);
      await sql`
        with recursive hours(n) as (select 0 union all select n + 1 from hours where n < 5),
        tenants(t) as (select 0 union all select t + 1 from tenants where t < 49)
        insert into usage_rollups (tenant_id, bucket, granularity, metric, value)
        select 'tenant-' || t, strftime('%Y-%m-%dT%H:00', ${at / 1000} + n * 3600, 'unixepoch'), 'h', 'messages', 60
        from tenants, hours where true`.execute(db);
    };
    const sumOf = async (granularity: string) =>
      Number(
        (
          await sql<{
            s: number;
          }>`select sum(value) as s from usage_rollups where granularity = ${granularity}`.execute(db)
        ).rows[0]?.s ?? 0,
      );

    // The clock moves 6 hours at a time for 30 days, maintenance running after each step as the
    // gateway runs it (at most once an hour).
    let largest = 0;
    for (let hour = 0; hour < 30 * 24; hour += 6) {
      await addHours(clock.now());
      clock.advance(6 * 3_600_000);
      await recorder.maintain();
      if (hour % 24 !== 0) continue; // the bound checked once a simulated day
      const { minute, hour: hours } = await rollups.size();
      largest = Math.max(largest, minute);
      // Never more than 48 h of minutes per tenant; every hour so far has its row.
      expect(minute).toBeLessThanOrEqual(50 * 48 * 60);
      expect(hours).toBe(50 * (hour + 6));
    }
    // 2,160,000 minute counts were written; the table holds 48 h of minutes and the month's hours,
    // which still count every one of them.
    expect(await rollups.size()).toEqual({ minute: 50 * 48 * 60, hour: 50 * 30 * 24 });
    expect(largest).toBeLessThanOrEqual(50 * 48 * 60);
    expect(await sumOf('h')).toBe(50 * 30 * 1440);
    expect(await sumOf('m')).toBe(50 * 48 * 60);
    const month = await rollups.series('tenant-7', '2026-10-01T00', 'hour');
    expect(month).toHaveLength(30 * 24);
    expect(month.every((point) => point.value === 60)).toBe(true);
    const day = await rollups.series('tenant-7', '2026-10-30T00:0', 'tenMinutes');
    expect(day).toHaveLength(24 * 6);
    expect(day.every((point) => point.value === 10)).toBe(true);

    // Within the hour maintenance does not run again; past the 90 days of hours nothing is left.
    expect(await recorder.maintain()).toBeUndefined();
    clock.advance(91 * DAY);
    await recorder.maintain();
    expect(await rollups.size()).toEqual({ minute: 0, hour: 0 });
  }, 120_000);
});
