import { PostgresAdapter } from 'kysely';

/** The one question repositories may ask about the dialect (for locking, which SQLite does not need). */
export function isPostgres(db: { getExecutor(): { adapter: unknown } }): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
