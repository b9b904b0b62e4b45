import { createEgressPolicy, type Resolver } from '../../src/egress';

const fakeDns: Record<string, { address: string; family: number }[]> = {
  'hooks.example.com': [{ address: '93.184.216.34', family: 4 }],
  'internal.example.com': [{ address: '10.0.0.5', family: 4 }],
  'split.example.com': [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
  'metadata.example.com': [{ address: '::ffff:169.254.169.254', family: 6 }],
};
const resolver: Resolver = async (name) => {
  const found = fakeDns[name];
  if (!found) throw new Error(`ENOTFOUND ${name}`);
  return found;
};

describe('egress policy (SSRF)', () => {
  const policy = createEgressPolicy([], resolver);

  it.each([
    ['http://127.0.0.1:8080/hook', '127.0.0.1 is a loopback address'],
    ['http://[::1]/', '::1 is a loopback address'],
    ['http://[::ffff:127.0.0.1]/', '127.0.0.1 is a loopback address'],
    ['http://0x7f000001/', '127.0.0.1 is a loopback address'],
    ['http://2130706433/', '127.0.0.1 is a loopback address'],
    ['http://0177.0.0.1/', '127.0.0.1 is a loopback address'],
    ['http://169.254.169.254/latest/meta-data', '169.254.169.254 is a linkLocal address'],
    ['http://10.1.2.3/', '10.1.2.3 is a private address'],
    ['http://192.168.1.1/', '192.168.1.1 is a private address'],
    ['http://100.64.0.1/', '100.64.0.1 is a carrierGradeNat address'],
    ['http://[fc00::1]/', 'fc00::1 is a uniqueLocal address'],
    ['http://[fe80::1]/', 'fe80::1 is a linkLocal address'],
    ['http://0.0.0.0/', '0.0.0.0 is a unspecified address'],
    ['http://localhost:3000/', 'localhost is a loopback name'],
    ['http://api.localhost/', 'api.localhost is a loopback name'],
    ['ftp://93.184.216.34/', 'ftp: is not http(s)'],
    ['not a url', 'not a valid URL'],
  ])('refuses %s', (url, reason) => {
    expect(policy.checkUrl(url)).toBe(reason);
  });

  it('allows public addresses and names (names are checked again when resolved)', () => {
    expect(policy.checkUrl('https://93.184.216.34/hook')).toBeNull();
    expect(policy.checkUrl('https://hooks.example.com/hook')).toBeNull();
    expect(policy.checkUrl('https://[2606:4700::1111]/')).toBeNull();
  });

  it('an allowlist entry opens exactly the address (and port) it names', () => {
    const allowing = createEgressPolicy(['127.0.0.1:4567', '10.0.0.0/8', '[::1]:9000'], resolver);
    expect(allowing.checkUrl('http://127.0.0.1:4567/')).toBeNull();
    expect(allowing.checkUrl('http://127.0.0.1:4568/')).toBe('127.0.0.1 is a loopback address');
    expect(allowing.checkUrl('http://10.200.1.1/')).toBeNull();
    expect(allowing.checkUrl('http://192.168.0.1/')).toBe('192.168.0.1 is a private address');
    expect(allowing.checkUrl('http://[::1]:9000/')).toBeNull();
    expect(allowing.checkUrl('http://[::1]:9001/')).toBe('::1 is a loopback address');
  });

  it('resolves names and refuses when any address is not public (including mapped forms)', async () => {
    await expect(policy.resolveFor('hooks.example.com', 443)).resolves.toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(policy.resolveFor('internal.example.com', 443)).rejects.toThrow(
      '10.0.0.5 is a private address',
    );
    await expect(policy.resolveFor('split.example.com', 443)).rejects.toThrow(
      '127.0.0.1 is a loopback address',
    );
    await expect(policy.resolveFor('metadata.example.com', 80)).rejects.toThrow(
      '169.254.169.254 is a linkLocal address',
    );
  });
});
