import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createMessageRepository, openSqliteDatabase, WAL_CHECKPOINT_PAGES, type Db } from '../../src/store';
import { queuedBatch } from '../support/messages';

// The embedded default's own file (not `:memory:`, which has no WAL), as `npm start` opens it.
describe('the embedded SQLite file', () => {
  let dir: string;
  let file: string;
  let db: Db;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'smsgate-sqlite-file-'));
    file = join(dir, 'smsgate.db');
    db = await openSqliteDatabase(file);
  });
  afterAll(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('checkpoints every WAL_CHECKPOINT_PAGES pages: the WAL never holds much more, however much is written', async () => {
    const messages = createMessageRepository(db);
    const pageSize = (await sql<{ page_size: number }>`pragma page_size`.execute(db)).rows[0]!.page_size;
    const before = statSync(file).size;
    // One-recipient sends, each its own transaction, as at 200 sends/s: several thousand WAL
    // frames in all, far more than SQLite's own threshold of 1,000 pages.
    for (let i = 0; i < 600; i++) await messages.insertBatch(queuedBatch('walled', 1));

    // A WAL file is reused from its start after each checkpoint, so its size is the most it ever
    // held: a 32-byte header and frames of a 24-byte header and a page. The slack is one
    // transaction's frames, written past the threshold by the COMMIT that checkpoints.
    const frames = (statSync(`${file}-wal`).size - 32) / (pageSize + 24);
    expect(frames).toBeLessThanOrEqual(WAL_CHECKPOINT_PAGES + 20);
    // The checkpoints happened: the rows are in the database file, not only in the WAL.
    expect(statSync(file).size).toBeGreaterThan(before + 20 * pageSize);
    const { count } = (await sql<{ count: number }>`select count(*) as count from messages`.execute(db))
      .rows[0]!;
    expect(count).toBe(600);
  });
});
