import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { isLoopback } from '../security';

/** Resolves a host name to every address it has (dns.lookup with `all: true`). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/** A private target an operator allows on purpose: a CIDR range, or one address with an optional port. */
interface AllowEntry {
  range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  port: number | undefined;
}

/**
 * Where the gateway may send requests that a tenant chose (webhook URLs). Only public unicast
 * addresses, over http(s), unless an allowlist entry names the address (and port). Names are
 * resolved and *every* address checked; the connection then goes to the address that was checked,
 * so a name cannot be re-pointed at an internal host between the check and the connect.
 */
export interface EgressPolicy {
  /** Why this URL may never be called (scheme, literal address, loopback name), or null. */
  checkUrl(url: string): string | null;
  /** Why this address may not be called on this port, or null. */
  checkAddress(address: string, port: number): string | null;
  /** Resolves a name, checks every address, and returns the one to connect to (a promise-style `lookup`). */
  resolveFor(hostname: string, port: number): Promise<{ address: string; family: 4 | 6 }>;
}

export class EgressRefused extends Error {
  readonly code = 'EGRESS_REFUSED';
}

/** Parses `10.0.0.0/8`, `127.0.0.1:4567`, `[::1]:4567` or a bare address; throws on anything else. */
export function parseAllowEntry(entry: string): AllowEntry {
  if (entry.includes('/')) return { range: ipaddr.parseCIDR(entry), port: undefined };
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
  const v4WithPort = /^([0-9.]+):(\d{1,5})$/.exec(entry);
  const [address, port] = bracketed
    ? [bracketed[1] ?? '', bracketed[2]]
    : v4WithPort
      ? [v4WithPort[1] ?? '', v4WithPort[2]]
      : [entry, undefined];
  const parsed = ipaddr.process(address);
  return {
    range: [parsed, parsed.kind() === 'ipv4' ? 32 : 128],
    port: port === undefined ? undefined : Number(port),
  };
}

export function isValidAllowEntry(entry: string): boolean {
  try {
    parseAllowEntry(entry);
    return true;
  } catch {
    return false;
  }
}

export function createEgressPolicy(allowlist: string[], resolve: Resolver = systemResolver): EgressPolicy {
  const allowed = allowlist.map(parseAllowEntry);

  function checkAddress(address: string, port: number): string | null {
    if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
    // process() turns ::ffff:127.0.0.1 into 127.0.0.1, so a mapped form is judged as what it is.
    const ip = ipaddr.process(address);
    const range = ip.range();
    if (range === 'unicast') return null;
    const listed = allowed.some(
      (entry) =>
        entry.range[0].kind() === ip.kind() &&
        ip.match(entry.range) &&
        (entry.port === undefined || entry.port === port),
    );
    return listed ? null : `${ip.toString()} is a ${range} address`;
  }

  return {
    checkAddress,

    checkUrl(raw) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return 'not a valid URL';
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${url.protocol} is not http(s)`;
      // The WHATWG parser already turned 0x7f000001, 2130706433 and 0177.0.0.1 into 127.0.0.1.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      if (ipaddr.isValid(host)) return checkAddress(host, port);
      // Wider than isLoopback: *.localhost resolves to loopback on some systems, and refusing costs nothing.
      if (isLoopback(host) || host.endsWith('.localhost')) return `${host} is a loopback name`;
      return null;
    },

    async resolveFor(hostname, port) {
      const addresses = await resolve(hostname);
      const refused = addresses.map((a) => checkAddress(a.address, port)).find((reason) => reason !== null);
      const first = addresses[0];
      if (refused || !first) throw new EgressRefused(`${hostname}: ${refused ?? 'no address'}`);
      return { address: first.address, family: first.family === 6 ? 6 : 4 };
    },
  };
}

/** A membership test for a list of addresses and CIDR ranges (ports in entries are ignored). */
export function createAddressMatcher(entries: string[]): (address: string) => boolean {
  const ranges = entries.map((entry) => parseAllowEntry(entry).range);
  return (address) => {
    if (!ipaddr.isValid(address)) return false;
    const ip = ipaddr.process(address);
    return ranges.some((range) => range[0].kind() === ip.kind() && ip.match(range));
  };
}
