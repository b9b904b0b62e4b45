import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability';

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
});
