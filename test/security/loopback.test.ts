import { isLoopback } from '../../src/security';

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', 'IPv4 loopback'],
    ['127.255.255.254', 'anywhere in 127/8'],
    ['::1', 'IPv6 loopback'],
    ['[::1]', 'as URL.hostname writes IPv6'],
    ['0:0:0:0:0:0:0:1', 'IPv6 loopback, uncompressed'],
    ['::ffff:127.0.0.1', 'IPv4-mapped, as a dual-stack socket reports an IPv4 peer'],
    ['[::ffff:7f00:1]', 'IPv4-mapped, as URL.hostname writes http://[::ffff:127.0.0.1]/'],
    ['localhost', 'the loopback name'],
    ['LocalHost', 'names are case-insensitive'],
    // The WHATWG URL parser and inet_aton both read these as 127.0.0.1: a connection to them
    // reaches loopback, so saying otherwise would disagree with where the packets go.
    ['127.1', 'short IPv4 form'],
    ['2130706433', 'IPv4 as one number'],
  ])('%s is loopback (%s)', (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  it.each<[string | undefined, string]>([
    ['128.0.0.1', 'just outside 127/8'],
    ['10.0.0.1', 'private, not loopback'],
    ['0.0.0.0', 'unspecified (binds every interface)'],
    ['::', 'IPv6 unspecified'],
    ['::2', 'next to ::1'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['[127.0.0.1]', 'brackets belong to IPv6 only'],
    ['127.0.0.1.nip.io', 'a public name that merely starts like loopback'],
    ['localhost.example.com', 'a name under someone else'],
    // Resolves to loopback on some systems only (systemd-resolved), so it earns no exemption here;
    // egress refuses it separately.
    ['api.localhost', 'a subdomain of localhost'],
    ['', 'nothing'],
    [undefined, 'no address (a closed socket)'],
  ])('%s is not loopback (%s)', (host) => {
    expect(isLoopback(host)).toBe(false);
  });
});
