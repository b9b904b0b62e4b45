import type { RunningServer } from '../../src/server';
import { startTestGateway } from '../support/gateway';
import { captured } from '../support/leak-guard';

// A gateway whose libphonenumber could not take the compiled-once helper (another release of the
// library that moved it): phone-number.ts reports it, as cachePatterns() does then.
jest.mock('../../src/messages/phone-number', () => ({
  ...jest.requireActual<typeof import('../../src/messages/phone-number')>('../../src/messages/phone-number'),
  phoneNumberPatternsCached: false,
}));

const WARNING = 'phone_numbers.patterns_not_cached';

describe('phone numbers: a libphonenumber without the compiled-once helper', () => {
  let gw: RunningServer;
  const before = captured.logLines.length;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.stop());

  it('is named in a warning when the gateway starts', () => {
    const warnings = captured.logLines
      .slice(before)
      .map((line) => JSON.parse(line) as { level: number; event?: string; msg: string })
      .filter((entry) => entry.event === WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(40);
    expect(warnings[0]?.msg).toMatch(/parsed as the library ships/);
  });
});
