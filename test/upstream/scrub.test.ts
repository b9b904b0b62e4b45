import { createScrub } from '../../src/upstream/scrub';

const KEY = 'live-shape-key-123';

describe('scrubbing provider answers of the APPKEY', () => {
  const scrub = createScrub(KEY);
  const answerOf = (raw: string) => scrub.answer(raw, JSON.parse(raw) as unknown);

  it('returns an answer that holds no form of the key as it is, without copying it', () => {
    const raw = JSON.stringify({ meta: { status: 'SUCCESS' }, data: { messages: [{ to: '614' }] } });
    const parsed = JSON.parse(raw) as unknown;
    expect(scrub.answer(raw, parsed)).toBe(parsed);
  });

  it('cleans every form of the key, in values and in keys', () => {
    const basic = Buffer.from(`${KEY}:`).toString('base64');
    const answer = answerOf(JSON.stringify({ msg: `bad ${KEY}`, [KEY]: [basic, encodeURIComponent(KEY)] }));
    expect(JSON.stringify(answer)).not.toContain(KEY);
    expect(JSON.stringify(answer)).not.toContain(basic);
    expect(answer).toEqual({ msg: 'bad [REDACTED]', '[REDACTED]': ['[REDACTED]', '[REDACTED]'] });
  });

  it('cleans a key the answer spells with JSON escapes, which its text does not show', () => {
    const escaped = `{"msg":"bad \\u006cive-shape-key-123","from":"a\\/b"}`;
    expect(escaped).not.toContain(KEY);
    expect(answerOf(escaped)).toEqual({ msg: 'bad [REDACTED]', from: 'a/b' });
  });

  it('cleans a text answer (not JSON)', () => {
    expect(scrub.answer(`<p>${KEY}</p>`, `<p>${KEY}</p>`)).toBe('<p>[REDACTED]</p>');
  });
});
