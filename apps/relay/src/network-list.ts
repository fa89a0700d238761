// CIDR allow lists (trusted networks): IPv4 and IPv6 prefixes; an IPv4-mapped IPv6 client
// (`::ffff:127.0.0.1`, what a dual-stack socket reports) matches IPv4 prefixes.

import { BlockList, isIP } from 'node:net';

export interface NetworkList {
  readonly networks: readonly string[];
  includes(ip: string): boolean;
}

/** Parses `ip` or `ip/prefix`; returns the error text, or null when valid. */
export function checkNetwork(text: string): string | null {
  const [ip = '', prefix] = text.split('/');
  const family = isIP(ip);
  if (family === 0) return `${text} is not an IP address or CIDR prefix`;
  if (prefix !== undefined) {
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return `${text} has a bad prefix length`;
  }
  return null;
}

export function createNetworkList(networks: readonly string[]): NetworkList {
  const list = new BlockList();
  for (const network of networks) {
    if (checkNetwork(network)) throw new RangeError(checkNetwork(network) ?? network);
    const [ip = '', prefix] = network.split('/');
    const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(prefix), type);
  }
  return {
    networks: [...networks],
    includes(ip) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
      const address = mapped?.[1] ?? ip;
      const family = isIP(address);
      if (family === 0) return false;
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
