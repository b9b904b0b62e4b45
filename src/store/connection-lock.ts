import {
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';

/**
 * The one SQLite connection's lock, shared by kysely and the ledger's own statements
 * (write-plan.ts): whoever holds it has the connection, and a transaction it opens, to itself.
 * Waiters get it in the order they asked, each handed it by the one before.
 *
 * Hand-rolled because kysely's own mutex is private to its driver and wakes every waiter at each
 * release (they race, and all but one wait again), and because reaching it through kysely
 * (`db.connection().execute`) cost a chain of async calls for every statement on the hot path
 * (7 % of the bytes a send allocated); the ledger's statements now take this lock directly.
 * Instructions a send: -2.5 % (docs/benchmarks.md, "Fourteenth round").
 */
export class ConnectionLock {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  /** Resolves once the caller holds the lock; `release` must follow, whatever happens. */
  take(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((granted) => this.waiting.push(granted));
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    if (!this.held) throw new Error('connection lock released but not held');
    const next = this.waiting.shift();
    if (next === undefined) this.held = false;
    else next();
  }

  /** Runs `work` holding the lock. */
  async holding<T>(work: () => Promise<T>): Promise<T> {
    await this.take();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}

/** kysely's SQLite dialect, whose driver hands out the connection under `lock`. */
export class LockedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly lock: ConnectionLock,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new LockedSqliteDriver(this.config, this.lock);
  }
}

/**
 * kysely's driver behind our lock first: kysely's own mutex, taken after it, is then always free.
 * Each connection kysely acquires is released once (its connection provider's `finally`).
 */
class LockedSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly lock: ConnectionLock,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.take();
    try {
      return await super.acquireConnection();
    } catch (error) {
      this.lock.release();
      throw error;
    }
  }

  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    this.lock.release();
  }

  /**
   * Closes the database once those who hold or wait for the connection are done: a transaction
   * under way (a send's ledger write) commits instead of being cut off by the close. Whoever asks
   * after this fails, the database being closed.
   */
  override async destroy(): Promise<void> {
    await this.lock.take();
    try {
      await super.destroy();
    } finally {
      this.lock.release();
    }
  }
}
