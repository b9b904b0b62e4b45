import { Writable } from 'node:stream';
import { createLogger, maskPhoneNumbers } from '../../src/observability';

describe('the logger', () => {
  it('redacts credential fields and scrubs secret values wherever they appear', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', secrets: ['super-secret-appkey-1'], destination });
    logger.info({ req: { headers: { authorization: 'Bearer abc.def.ghi', appkey: 'x' } } }, 'request');
    logger.error(
      { err: new Error('failed with super-secret-appkey-1 in it') },
      'upstream said super-secret-appkey-1',
    );
    const text = lines.join('');
    expect(text).not.toContain('super-secret-appkey-1');
    expect(text).not.toContain('abc.def.ghi');
    expect(text).toContain('[REDACTED]');
    expect(lines).toHaveLength(2);
  });

  it("redacts a field named like one of the config's secret keys, whatever its value", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', secrets: [], destination });
    logger.info(
      { password: 'short', databaseUrl: 'postgres://u:p@db/x', secretSha256: 'ab12', keyPrefix: 'smsgate' },
      'connecting',
    );
    const line = JSON.parse(lines.join('')) as Record<string, unknown>;
    expect(line).toMatchObject({
      password: '[REDACTED]',
      databaseUrl: '[REDACTED]',
      secretSha256: '[REDACTED]',
      keyPrefix: 'smsgate',
    });
  });
});

describe('phone numbers in logs', () => {
  it('keeps only the last 3 digits of numbers inside strings, and leaves bare numbers alone', () => {
    const line = JSON.stringify({
      time: 1764043200000,
      msg: "to[0]: '0412345678' is not allowed; sent to +61412345678 and 61499888777",
      retryInMs: 86400000,
      id: 'msg_01JD',
    });
    const masked = JSON.parse(maskPhoneNumbers(line));
    expect(masked).toEqual({
      time: 1764043200000,
      msg: "to[0]: '*******678' is not allowed; sent to +********678 and ********777",
      retryInMs: 86400000,
      id: 'msg_01JD',
    });
  });

  it('leaves UUIDs whole, however many digits they have in a row: the logged request id is the one answered', () => {
    const ids = ['12345678-9abc-4def-8123-456789012345', 'abcdef01-2345-4678-9012-041234567890'];
    const line = JSON.stringify({ req: { id: ids[0] }, msg: `ticket ${ids[1]} for 0412345678` });
    expect(JSON.parse(maskPhoneNumbers(line))).toEqual({
      req: { id: ids[0] },
      msg: `ticket ${ids[1]} for *******678`,
    });
    // Only a whole UUID: a number that merely ends a longer UUID-shaped string is masked.
    const longer = JSON.stringify({ msg: 'ref 0abcdef01-2345-4678-9012-642123456789' });
    expect(maskPhoneNumbers(longer)).toContain('-*********789');
  });
});
