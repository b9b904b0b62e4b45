import ipaddr from 'ipaddr.js';

/**
 * Whether a host name or address is this machine's loopback: 127.0.0.0/8, ::1 (however it is
 * written), an IPv4-mapped loopback such as ::ffff:127.0.0.1 (what a dual-stack socket reports for
 * an IPv4 peer), or the name `localhost`. Takes what `URL.hostname` gives (IPv6 in brackets) and
 * what `socket.remoteAddress` gives. Subdomains of localhost are not loopback here: they resolve to
 * it only on some systems, and this answer grants exemptions (plain HTTP).
 */
export function isLoopback(hostOrAddress: string | undefined): boolean {
  if (!hostOrAddress) return false;
  const host = hostOrAddress.toLowerCase();
  if (host === 'localhost') return true;
  const bracketed = /^\[(.*)\]$/.exec(host);
  const address = bracketed ? (bracketed[1] ?? '') : host;
  if (bracketed ? !ipaddr.IPv6.isValid(address) : !ipaddr.isValid(address)) return false;
  // process() turns an IPv4-mapped IPv6 address into the IPv4 address it carries.
  return ipaddr.process(address).range() === 'loopback';
}
