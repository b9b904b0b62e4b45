import { claimAt } from '../../src/auth';
import { recipientProblem } from '../../src/messages';

describe('claimAt: claim names and paths into nested or namespaced claims', () => {
  const payload = {
    tenant: 'top',
    app_metadata: { tenant: 'nested' },
    'https://example.com/claims': { tenant: 'namespaced', deeper: { tenant: 'deep' } },
    'https://example.com/tenant': 'flat-namespaced',
    'a.b': 'dotted-key',
    a: { b: 'shorter-key' },
  };

  it.each([
    ['tenant', 'top'],
    ['app_metadata.tenant', 'nested'],
    ['https://example.com/claims.tenant', 'namespaced'],
    ['https://example.com/claims.deeper.tenant', 'deep'],
    ['https://example.com/tenant', 'flat-namespaced'],
    ['a.b', 'dotted-key'],
  ])('%s → %s', (path, value) => {
    expect(claimAt(payload, path)).toBe(value);
  });

  it('finds nothing on a missing path, through a non-object, or in inherited keys', () => {
    expect(claimAt(payload, 'app_metadata.missing')).toBeUndefined();
    expect(claimAt(payload, 'tenant.length')).toBeUndefined();
    expect(claimAt(payload, 'constructor')).toBeUndefined();
    expect(claimAt(payload, '__proto__.x')).toBeUndefined();
  });
});

describe('recipientProblem: who a token may send to', () => {
  const own = '+61412345678';
  it('lets sms:send send anywhere', () => {
    expect(recipientProblem({ scopes: ['sms:send'] }, ['+61499999999'])).toBeUndefined();
  });
  it('lets sms:send:self send only to its own verified number', () => {
    const self = {
      scopes: ['sms:send:self' as const],
      phoneNumber: '+61 412 345 678',
      phoneNumberVerified: true,
    };
    expect(recipientProblem(self, [own])).toBeUndefined();
    expect(recipientProblem(self, [own, '+61499999999'])).toMatch(/own phone number/);
    expect(recipientProblem({ ...self, phoneNumberVerified: false }, [own])).toMatch(/verified/);
    expect(recipientProblem({ ...self, phoneNumber: undefined }, [own])).toMatch(/has none/);
  });
  it('refuses a token with neither sending scope', () => {
    expect(recipientProblem({ scopes: ['sms:read'] }, [own])).toMatch(/sms:send/);
  });
});
