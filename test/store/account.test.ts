import { createAccountRepository } from '../../src/store';
import { DIALECTS, openTestStore, type TestStore } from '../support/databases';

// The low-balance alarm in the store, on both dialects: one announcement per crossing, re-armed
// only by a top-up (a balance at or above the threshold and above what the provider's alert said).
describe.each(DIALECTS)('the account balance on %s', (dialect) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(dialect);
  });
  afterAll(() => store.drop());

  it('announces each crossing once, from readings and provider alerts, and re-arms after a top-up', async () => {
    const account = createAccountRepository(store.db, () => false);
    const policy = { threshold: 100, notify: ['ops'] };
    const at = '2026-11-25T01:00:00.000Z';
    const read = async (sms: number) => (await account.recordBalance({ sms, mms: null }, at, policy)).crossed;
    const alert = async (balance: number) => (await account.recordAlert(balance, 'low', at, policy)).crossed;

    expect([await read(150), await read(90), await read(80), await alert(70), await read(70)]).toEqual([
      false,
      true,
      false,
      false,
      false,
    ]);
    expect(await account.current()).toMatchObject({ smsBalance: 70, low: true });
    // Topped up: above the threshold and above the alert's 70 → re-armed; the next drop announces again.
    expect([await read(120), await read(95)]).toEqual([false, true]);
    // The provider's alert alone is a crossing when the alarm is off.
    expect([await read(500), await alert(400), await alert(390)]).toEqual([false, true, false]);
    const events = await store.db.selectFrom('events').select('type').execute();
    expect(events.map((e) => e.type)).toEqual([
      'account.low_balance',
      'account.low_balance',
      'account.low_balance',
    ]);
  });
});
