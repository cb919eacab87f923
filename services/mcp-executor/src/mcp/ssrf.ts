import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { McpServerError, McpUrlNotAllowedError } from './errors.ts';

/**
 * The `server_url` guard. A request's MCP server URL is attacker-controlled: without this check a
 * caller could make Spool talk to its own Redis, a cloud metadata endpoint (169.254.169.254) or
 * anything else on the private network. Only the configuration can open holes (`parseAllowList`).
 *
 * The check runs twice: `assertUrlAllowed` before anything connects (for a clear error), and
 * `guardedLookup` inside the connection itself, as the socket's DNS lookup, so that the address
 * that was checked is the address that is connected to. A DNS server that answers a public address
 * to the first question and 127.0.0.1 to the second (DNS rebinding) is refused at the second.
 */

/** Host names, IPs and CIDRs that may be reached although they are private. Build with `parseAllowList`. */
export interface AllowList {
  /** Exact host names, lower case, without a trailing dot. */
  readonly hosts: ReadonlySet<string>;
  /** From `*.example.internal` entries: `.example.internal`, matching any subdomain. */
  readonly hostSuffixes: readonly string[];
  readonly ranges: readonly IpRange[];
}

interface IpRange {
  readonly version: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
}

export type AddressKind = 'public' | 'private' | 'loopback' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

/**
 * Parses configuration entries: host names (`mcp.internal`), wildcard host names
 * (`*.svc.cluster.local`, subdomains only), IPs (`127.0.0.1`, `::1`, `[::1]`) and CIDRs
 * (`10.0.0.0/8`, `fd00::/8`). Every invalid entry is reported at once, so that a bad configuration
 * fails at start-up rather than on the first request.
 */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const hostSuffixes: string[] = [];
  const ranges: IpRange[] = [];
  const problems: string[] = [];

  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const slash = entry.indexOf('/');
    if (slash !== -1) {
      const range = parseCidr(entry.slice(0, slash), entry.slice(slash + 1));
      if (range) ranges.push(range);
      else problems.push(`'${entry}' is not a valid CIDR`);
      continue;
    }
    const ip = parseIp(stripBrackets(entry));
    if (ip) {
      ranges.push({ version: ip.version, base: ip.value, prefix: ip.version === 4 ? 32 : 128 });
      continue;
    }
    const host = normaliseHost(entry);
    if (host.startsWith('*.') && HOST_NAME.test(host.slice(2))) hostSuffixes.push(host.slice(1));
    else if (HOST_NAME.test(host)) hosts.add(host);
    else problems.push(`'${entry}' is neither a host name, an IP address nor a CIDR`);
  }

  if (problems.length > 0) throw new TypeError(`Invalid MCP server allow list: ${problems.join('; ')}`);
  return { hosts, hostSuffixes, ranges };
}

export interface AssertUrlOptions {
  /** Resolves a host name to all its addresses; defaults to `dns.lookup` with `all: true`. */
  lookup?: (hostname: string) => Promise<string[]>;
}

/**
 * Resolves when Spool may connect to `url`; throws `McpUrlNotAllowedError` (code
 * `mcp_server_url_not_allowed`) when the scheme is not http(s) or when the host is, or resolves to,
 * a non-public address that the allow list does not name. Every resolved address must pass: a name
 * with one public and one private address is refused. A name that does not resolve throws
 * `McpServerError` `mcp_unreachable` (it cannot be checked, so it is not connected to either).
 */
export async function assertUrlAllowed(url: string, allow: AllowList, options?: AssertUrlOptions): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new McpUrlNotAllowedError('MCP server URL is not a valid URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new McpUrlNotAllowedError(`MCP server URL must use http or https, not '${parsed.protocol.replace(/:$/, '')}'.`);
  }

  // WHATWG URL parsing has already turned `2130706433`, `0x7f.1` and friends into dotted IPv4.
  const host = normaliseHost(stripBrackets(parsed.hostname));
  if (hostAllowed(host, allow)) return;

  if (isIP(host) !== 0) {
    const kind = classifyAddress(host);
    if (kind !== 'public' && !ipAllowed(host, allow)) {
      throw new McpUrlNotAllowedError(`MCP server URL not allowed: ${host} is a ${kind} address.`);
    }
    return;
  }

  let addresses: string[];
  try {
    addresses = await (options?.lookup ?? lookupAll)(host);
  } catch (error) {
    throw new McpServerError('mcp_unreachable', `Could not resolve MCP server host '${host}'.`, { cause: error });
  }
  if (addresses.length === 0) {
    throw new McpServerError('mcp_unreachable', `Could not resolve MCP server host '${host}'.`);
  }
  for (const address of addresses) {
    const kind = classifyAddress(address);
    if (kind !== 'public' && !ipAllowed(address, allow)) {
      // The resolved address is not echoed: it would let a caller map the internal DNS.
      throw new McpUrlNotAllowedError(`MCP server URL not allowed: '${host}' resolves to a ${kind} address.`);
    }
  }
}

/** The error code of a connection that `guardedLookup` refused. */
export const ADDRESS_NOT_ALLOWED = 'ESPOOL_ADDRESS_NOT_ALLOWED';

/** `net`'s lookup signature (what an HTTP agent's `connect.lookup` is called with). */
export type { LookupFunction } from 'node:net';

/**
 * A socket lookup that resolves the name and refuses the connection unless every address it got
 * passes the same rule as `assertUrlAllowed`: the connection goes only to addresses checked in
 * this very lookup. Names the allow list lists by name are resolved without a check.
 */
export function guardedLookup(allow: AllowList, resolve: (hostname: string) => Promise<string[]> = lookupAll): LookupFunction {
  return (hostname, options, callback) => {
    const host = normaliseHost(stripBrackets(hostname));
    resolve(host).then(
      (addresses) => {
        if (addresses.length === 0) return callback(Object.assign(new Error(`Could not resolve MCP server host '${host}'.`), { code: 'ENOTFOUND' }), '', 4);
        if (!hostAllowed(host, allow)) {
          for (const address of addresses) {
            const kind = classifyAddress(address);
            if (kind !== 'public' && !ipAllowed(address, allow)) {
              const refused: NodeJS.ErrnoException = new Error(`MCP server URL not allowed: '${host}' resolves to a ${kind} address.`);
              refused.code = ADDRESS_NOT_ALLOWED;
              return callback(refused, '', 4);
            }
          }
        }
        const entries = addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
        if (options.all) return callback(null, entries);
        const first = entries[0] as { address: string; family: number };
        callback(null, first.address, first.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };
}

/**
 * True for every address Spool must not reach on a caller's behalf: private (10/8, 172.16/12,
 * 192.168/16, fc00::/7), loopback (127/8, ::1), link-local (169.254/16, fe80::/10), unspecified
 * (0.0.0.0, ::), plus carrier-grade NAT, multicast and reserved space, and IPv6 forms that embed
 * such an IPv4 address (IPv4-mapped `::ffff:127.0.0.1`, IPv4-compatible, NAT64, 6to4).
 * A string that is not an IP address counts as private: fail closed.
 */
export function isPrivateAddress(ip: string): boolean {
  return classifyAddress(ip) !== 'public';
}

/** What kind of address `ip` is; `reserved` for anything unparsable. */
export function classifyAddress(ip: string): AddressKind {
  const parsed = parseIp(stripBrackets(ip));
  if (!parsed) return 'reserved';
  if (parsed.version === 4) return classifyV4(parsed.value);
  const v6 = parsed.value;
  const embedded = embeddedV4(v6);
  if (embedded !== null) {
    const kind = classifyV4(embedded);
    // `::` and `::1` sit inside the IPv4-compatible block; name them as IPv6 does.
    if (v6 === 0n) return 'unspecified';
    if (v6 === 1n) return 'loopback';
    return kind;
  }
  for (const [range, kind] of V6_RULES) if (inRange(range, 6, v6)) return kind;
  return 'public';
}

// ---------------------------------------------------------------------------------------------------

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function cidr(text: string): IpRange {
  const [address, prefix] = text.split('/') as [string, string];
  const range = parseCidr(address, prefix);
  if (!range) throw new Error(`bad built-in CIDR ${text}`);
  return range;
}

/** First match wins; order only matters for overlapping entries. */
const V4_RULES: ReadonlyArray<readonly [IpRange, AddressKind]> = [
  [cidr('0.0.0.0/32'), 'unspecified'],
  // "This network": Linux routes 0.x.x.x to the local host.
  [cidr('0.0.0.0/8'), 'reserved'],
  [cidr('10.0.0.0/8'), 'private'],
  // Carrier-grade NAT space, used inside clouds and VPNs (Tailscale) for internal hosts.
  [cidr('100.64.0.0/10'), 'private'],
  [cidr('127.0.0.0/8'), 'loopback'],
  // Includes the cloud metadata endpoint 169.254.169.254.
  [cidr('169.254.0.0/16'), 'link-local'],
  [cidr('172.16.0.0/12'), 'private'],
  // IETF protocol assignments (e.g. DS-Lite 192.0.0.0/29): never a public server.
  [cidr('192.0.0.0/24'), 'reserved'],
  [cidr('192.168.0.0/16'), 'private'],
  // Benchmarking space, seen on internal test networks.
  [cidr('198.18.0.0/15'), 'reserved'],
  [cidr('224.0.0.0/4'), 'multicast'],
  // Reserved, and the limited broadcast address 255.255.255.255.
  [cidr('240.0.0.0/4'), 'reserved'],
];

const V6_RULES: ReadonlyArray<readonly [IpRange, AddressKind]> = [
  [cidr('fc00::/7'), 'private'],
  [cidr('fe80::/10'), 'link-local'],
  // Site-local: deprecated, but still routed as private by some networks.
  [cidr('fec0::/10'), 'private'],
  [cidr('ff00::/8'), 'multicast'],
  // NAT64 local-use prefix: translates to whatever IPv4 the local gateway chooses.
  [cidr('64:ff9b:1::/48'), 'private'],
  // Discard-only prefix.
  [cidr('100::/64'), 'reserved'],
];

/** IPv6 blocks whose low bits carry an IPv4 address that the network will actually reach. */
function embeddedV4(v6: bigint): bigint | null {
  const low32 = v6 & 0xffff_ffffn;
  if (v6 >> 32n === 0xffffn) return low32; // ::ffff:0:0/96, IPv4-mapped
  if (v6 >> 32n === 0xffff_0000n) return low32; // ::ffff:0:0:0/96, IPv4-translated (SIIT)
  if (v6 >> 32n === 0n) return low32; // ::/96, IPv4-compatible (deprecated), also :: and ::1
  if (v6 >> 32n === 0x0064_ff9b_0000_0000_0000_0000n) return low32; // 64:ff9b::/96, NAT64
  if (v6 >> 112n === 0x2002n) return (v6 >> 80n) & 0xffff_ffffn; // 2002::/16, 6to4
  return null;
}

function classifyV4(v4: bigint): AddressKind {
  for (const [range, kind] of V4_RULES) if (inRange(range, 4, v4)) return kind;
  return 'public';
}

function inRange(range: IpRange, version: 4 | 6, value: bigint): boolean {
  if (range.version !== version) return false;
  const bits = BigInt(version === 4 ? 32 : 128);
  const shift = bits - BigInt(range.prefix);
  return value >> shift === range.base >> shift;
}

function hostAllowed(host: string, allow: AllowList): boolean {
  if (allow.hosts.has(host)) return true;
  return allow.hostSuffixes.some((suffix) => host.endsWith(suffix));
}

function ipAllowed(ip: string, allow: AllowList): boolean {
  const parsed = parseIp(stripBrackets(ip));
  if (!parsed) return false;
  // An IPv4 rule also covers the IPv4-mapped form, which is how dual-stack sockets report IPv4 peers.
  const mapped = parsed.version === 6 && parsed.value >> 32n === 0xffffn ? parsed.value & 0xffff_ffffn : null;
  return allow.ranges.some((range) => inRange(range, parsed.version, parsed.value) || (mapped !== null && inRange(range, 4, mapped)));
}

async function lookupAll(hostname: string): Promise<string[]> {
  const results = await dnsLookup(hostname, { all: true, verbatim: true });
  return results.map((r) => r.address);
}

function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function parseCidr(address: string, prefixText: string): IpRange | null {
  const ip = parseIp(stripBrackets(address.trim()));
  if (!ip || !/^\d{1,3}$/.test(prefixText.trim())) return null;
  const prefix = Number(prefixText);
  const bits = ip.version === 4 ? 32 : 128;
  if (prefix > bits) return null;
  // Host bits set (`10.1.2.3/8`) are cleared rather than refused: the intent is clear.
  const shift = BigInt(bits - prefix);
  return { version: ip.version, base: (ip.value >> shift) << shift, prefix };
}

/** IPv4 or IPv6 (with optional zone id and embedded dotted IPv4) as a number; null when not an IP. */
export function parseIp(text: string): { version: 4 | 6; value: bigint } | null {
  const withoutZone = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const version = isIP(withoutZone);
  if (version === 4) return { version: 4, value: v4ToBigInt(withoutZone) };
  if (version !== 6) return null;

  // Rewrite a trailing dotted IPv4 (`::ffff:1.2.3.4`) as two hex groups (`::ffff:102:304`).
  let groupsText = withoutZone;
  const lastColon = groupsText.lastIndexOf(':');
  const last = groupsText.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = v4ToBigInt(last);
    groupsText = `${groupsText.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [headText, restText] = groupsText.includes('::') ? groupsText.split('::') : [groupsText, undefined];
  const head = splitGroups(headText ?? '');
  const rest = restText === undefined ? [] : splitGroups(restText);
  const zeros = restText === undefined ? 0 : 8 - head.length - rest.length;
  const groups = [...head, ...Array<bigint>(zeros).fill(0n), ...rest];
  if (groups.length !== 8) return null;
  return { version: 6, value: groups.reduce((acc, g) => (acc << 16n) | g, 0n) };
}

function splitGroups(text: string): bigint[] {
  return text === '' ? [] : text.split(':').map((g) => BigInt(`0x${g}`));
}

function v4ToBigInt(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}
