/**
 * Which addresses notifications may reach. Webhook, SMS gateway and push URLs are given by users,
 * and the platform sends to them from inside the network it runs in: without a check, an endpoint
 * could reach the loopback interface, the cloud metadata service (169.254.169.254) or any private
 * host, and delivery records would show what answered. Addresses are checked after DNS resolution,
 * when an endpoint is saved and again on every connection (through the agents' `lookup`), so a name
 * that resolves elsewhere by the time it is used (DNS rebinding) is refused too.
 */
import dns from 'node:dns';
import net from 'node:net';
import { Errors, type FieldError } from '../errors';

/** The system resolver's shape (dns.lookup with `all: true`); tests give their own answers. */
export type Resolver = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

/** Ranges no notification goes to unless FIELDFLOW_NOTIFY_ALLOW_PRIVATE lists them, with why. */
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'an unspecified address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT address (some clouds serve metadata there)'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address (cloud metadata services live there)'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved address'],
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['::/96', 'an IPv4-compatible address'],
  ['100::/64', 'a discard address'],
  ['2001:db8::/32', 'a documentation address'],
  ['fc00::/7', 'a private (unique local) address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
];

/** How long saving an endpoint waits for DNS before leaving the check to send time. */
const SAVE_LOOKUP_MS = 3000;

/** An address or subnet as FIELDFLOW_NOTIFY_ALLOW_PRIVATE lists them: `127.0.0.1`, `10.0.0.0/8`, `fd00::/8`. */
export function parseSubnet(entry: string): { network: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, prefixText, ...rest] = entry.trim().split('/');
  const version = net.isIP(address);
  if (!version || rest.length) return null;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^[0-9]{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  return prefix <= max ? { network: address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' } : null;
}

/** The 16 bytes of an IPv6 address (which net.isIPv6 accepted). */
function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0];
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail[1].split('.').map(Number);
    text = text.slice(0, -tail[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** The IPv4 address an IPv6 address carries to an IPv4 host (mapped, NAT64 or 6to4), or null. */
function embeddedIPv4(address: string): string | null {
  const b = ipv6Bytes(address);
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12).join('.');
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  return null;
}

/** A connection refused by the guard; its message names the host, the address and why. */
export class ForbiddenTargetError extends Error {
  readonly code = 'FF_FORBIDDEN_TARGET';
}

/** Checks notification targets against the refused ranges and the allow list. */
export class TargetGuard {
  private readonly refused: Array<{ list: net.BlockList; why: string }> = [];
  private readonly allowed = new net.BlockList();

  /**
   * @param allow addresses and subnets that may be reached even though they are private (FIELDFLOW_NOTIFY_ALLOW_PRIVATE)
   * @param resolver the system resolver (dns.lookup); tests answer with their own addresses
   */
  constructor(
    allow: readonly string[],
    private readonly resolver: Resolver = dns.lookup as Resolver,
  ) {
    for (const [range, why] of REFUSED) {
      const { network, prefix, family } = parseSubnet(range)!;
      let entry = this.refused.find((r) => r.why === why);
      if (!entry) this.refused.push((entry = { list: new net.BlockList(), why }));
      entry.list.addSubnet(network, prefix, family);
    }
    for (const item of allow) {
      const subnet = parseSubnet(item);
      if (!subnet) throw new Error(`not an address or subnet: ${JSON.stringify(item)}`);
      this.allowed.addSubnet(subnet.network, subnet.prefix, subnet.family);
    }
  }

  /** Why `address` (an IP address) may not be reached, or null if it may. */
  refusal(address: string): string | null {
    const version = net.isIP(address);
    if (!version) return 'not an IP address';
    const family = version === 4 ? 'ipv4' : 'ipv6';
    const carried = version === 6 ? embeddedIPv4(address) : null;
    if (this.allowed.check(address, family) || (carried && this.allowed.check(carried, 'ipv4'))) return null;
    if (carried) {
      const why = this.refusal(carried);
      if (why) return `${why} (${carried}, inside ${address})`;
    }
    for (const { list, why } of this.refused) if (list.check(address, family)) return why;
    return null;
  }

  /**
   * Why the host of `url` may not be reached without looking it up, or null: an IP literal in any
   * spelling the URL parser turns into one (2130706433, 0x7f.1, [::ffff:127.0.0.1]), or a localhost name.
   */
  literalRefusal(url: URL): string | null {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (net.isIP(host)) {
      const why = this.refusal(host);
      return why && `${host} is ${why}`;
    }
    // RFC 6761: localhost names are the loopback interface, whatever DNS might say.
    if (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.') {
      const why = this.refusal('127.0.0.1');
      return why && `${host} is ${why}`;
    }
    return null;
  }

  /**
   * Check URLs when an endpoint is saved: literals at once, names through DNS. A name that does not
   * resolve now is accepted (it may later); sending checks it again on every connection.
   * Throws FF_FORBIDDEN_TARGET naming each refused URL's path.
   */
  async checkSaved(targets: ReadonlyArray<{ url: string; path: string }>): Promise<void> {
    const problems: FieldError[] = [];
    await Promise.all(
      targets.map(async ({ url, path }) => {
        const parsed = new URL(url);
        const literal = this.literalRefusal(parsed);
        if (literal) return void problems.push({ path, message: refusedMessage(literal) });
        const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
        if (net.isIP(host)) return;
        const addresses = await this.resolveForSave(host);
        const refused = addresses.map(({ address }) => ({ address, why: this.refusal(address) }));
        const first = refused.find((r) => r.why);
        if (first && refused.every((r) => r.why)) problems.push({ path, message: refusedMessage(`${host} resolves to ${first.address}, ${first.why}`) });
      }),
    );
    if (problems.length) throw Errors.FORBIDDEN_TARGET(problems.map((e) => `${e.path} ${e.message}`).join('; '), { errors: problems });
  }

  /**
   * A `lookup` for http(s) agents: the connection gets only the name's addresses that may be
   * reached, checked as it is made. With none left it fails with a ForbiddenTargetError.
   */
  readonly lookup = (hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void): void => {
    this.resolver(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      if (!addresses.length) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      const usable = addresses.filter(({ address }) => !this.refusal(address));
      if (!usable.length) return callback(new ForbiddenTargetError(`${hostname} resolves to ${addresses[0].address}, ${this.refusal(addresses[0].address)}`), '');
      if (options.all) callback(null, usable);
      else callback(null, usable[0].address, usable[0].family);
    });
  };

  private resolveForSave(host: string): Promise<dns.LookupAddress[]> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve([]), SAVE_LOOKUP_MS);
      this.resolver(host, { all: true }, (err, addresses) => {
        clearTimeout(timer);
        resolve(err ? [] : addresses);
      });
    });
  }
}

/** How a refused target is described to the user who named it. */
export function refusedMessage(reason: string): string {
  return `is refused: ${reason}; notifications do not go to internal addresses unless FIELDFLOW_NOTIFY_ALLOW_PRIVATE lists them`;
}
