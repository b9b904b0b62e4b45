import type { Identity } from '../../src/auth';
import { testConfig } from '../support/gateway';
import { createLogger } from '../../src/observability';
import { equalsConstantTime } from '../../src/security';
import { createVerificationRepository, openSqliteDatabase, type Db } from '../../src/store';
import { createVerifier, generateCode } from '../../src/verify';
import { ManualClock } from '../support/manual-clock';

// The check's compare goes through the one constant-time helper of src/security, over two HMAC
// digests of fixed length, never over the code itself: so its time depends neither on how many
// leading digits are right nor on the length of what was presented. (A timing measurement would
// be flaky on shared cores; this pins the code path that makes one unnecessary.)
jest.mock('../../src/security', () => {
  const actual = jest.requireActual<typeof import('../../src/security')>('../../src/security');
  return { ...actual, equalsConstantTime: jest.fn(actual.equalsConstantTime) };
});
const compare = equalsConstantTime as jest.MockedFunction<typeof equalsConstantTime>;

describe('the verification check', () => {
  let db: Db;
  const clock = new ManualClock();
  const identity: Identity = {
    tenantId: 'alpha',
    scopes: ['verify:send', 'verify:check'],
    subject: undefined,
  };
  const sentCodes: string[] = [];

  beforeAll(async () => {
    db = await openSqliteDatabase(':memory:');
  });
  afterAll(() => db.destroy());

  function verifier() {
    const config = testConfig({
      tenants: {
        alpha: {
          templates: {
            verify: { text: 'Code {{code}}', fields: { code: { type: 'digits', maxLength: 6 } } },
          },
          verification: { template: 'verify', maxChecks: 10 },
        },
      },
    });
    return createVerifier({
      config,
      repository: createVerificationRepository(db, () => false),
      sendMessages: async (_identity, body) => {
        sentCodes.push((body as { params: { code: string } }).params.code);
        return { messages: [], total: 1, segments: 1, credits: 1 };
      },
      clock,
      logger: createLogger({ level: 'silent', secrets: [] }),
      onEvents: () => undefined,
    });
  }

  it('compares 64-hex digests with equalsConstantTime, whatever is presented', async () => {
    const v = verifier();
    const started = await v.start(identity, { to: '0423 111 222', channel: 'sms' }, '127.0.0.1');
    const code = sentCodes[0]!;
    const rightPrefix = `${code.slice(0, 5)}${(Number(code[5]) + 1) % 10}`;
    const wrongPrefix = `${(Number(code[0]) + 1) % 10}${code.slice(1)}`;
    const presented = [rightPrefix, wrongPrefix, '0000', '1234567890', code];
    compare.mockClear();
    const results = [];
    for (const attempt of presented)
      results.push((await v.check(identity, { id: started.id }, attempt)).status);
    expect(results).toEqual(['denied', 'denied', 'denied', 'denied', 'approved']);
    expect(compare).toHaveBeenCalledTimes(presented.length);
    for (const [a, b] of compare.mock.calls) {
      expect(a).toMatch(/^[0-9a-f]{64}$/);
      expect(b).toMatch(/^[0-9a-f]{64}$/);
    }
    // The stored side is the same digest every time; the presented code itself is never compared.
    expect(new Set(compare.mock.calls.map(([, stored]) => stored)).size).toBe(1);
    expect(compare.mock.calls.flat()).not.toContain(code);
  });

  it('codes come from the CSPRNG at the configured length, every digit position used', () => {
    const codes = Array.from({ length: 2000 }, () => generateCode(6));
    expect(codes.every((c) => /^[0-9]{6}$/.test(c))).toBe(true);
    for (let position = 0; position < 6; position += 1)
      expect(new Set(codes.map((c) => c[position])).size).toBe(10);
    expect(generateCode(8)).toMatch(/^[0-9]{8}$/);
  });
});
