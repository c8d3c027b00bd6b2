/**
 * Pure geography helpers for routing: great-circle distance and IP-in-CIDR tests.
 *
 * Every address is compared in the 128-bit IPv6 space, with IPv4 mapped to ::ffff:a.b.c.d,
 * so an IPv4 client seen through a dual-stack socket (::ffff:10.1.2.3) matches an IPv4 block.
 */
import { isIP } from 'node:net';

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

/** Mean Earth radius (IUGG); the spherical model is off by < 0.5 %, far below what routing cares about. */
export const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in km by the haversine formula. */
export function distanceKm(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  // Rounding can push h a hair above 1 for antipodal points, where asin would return NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

const IPV4_MAPPED = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

/** An address as a 128-bit integer (IPv4 mapped into ::ffff:0:0/96), or undefined when it is not an IP address. */
export function parseIp(ip: string): bigint | undefined {
  // Link-local IPv6 addresses may carry a zone ("fe80::1%eth0") that says nothing about the network.
  const address = ip.trim().replace(/%[^%]*$/, '');
  const family = isIP(address);
  if (family === 4) return IPV4_MAPPED | parseIpv4(address);
  if (family === 6) return parseIpv6(address);
  return undefined;
}

export interface Cidr {
  /** The network address with host bits cleared, in the 128-bit space. */
  readonly network: bigint;
  /** Prefix length in the 128-bit space: an IPv4 /16 is 112, as it is the block ::ffff:a.b.0.0/112. */
  readonly bits: number;
}

/** Parses "10.1.0.0/16" or "2001:db8::/32"; undefined when malformed. */
export function parseCidr(cidr: string): Cidr | undefined {
  const text = cidr.trim();
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const prefix = Number(bitsText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  const bits = family === 4 ? prefix + 96 : prefix;
  const value = family === 4 ? IPV4_MAPPED | parseIpv4(address) : parseIpv6(address);
  return { network: value & mask(bits), bits };
}

/**
 * The matched prefix length (in the 128-bit space, see Cidr.bits) when `ip` lies in `cidr`,
 * else undefined; a malformed address or block is no match. Longest-prefix routing compares these.
 */
export function cidrMatchBits(ip: string, cidr: string): number | undefined {
  const address = parseIp(ip);
  const block = parseCidr(cidr);
  if (address === undefined || block === undefined) return undefined;
  return inCidr(address, block) ? block.bits : undefined;
}

/** Whether a parsed address lies in a parsed block: for callers that parse each block once. */
export function inCidr(address: bigint, block: Cidr): boolean {
  return (address & mask(block.bits)) === block.network;
}

/** Whether `ip` lies in `cidr`; IPv4-mapped IPv6 addresses match IPv4 blocks. */
export function ipInCidr(ip: string, cidr: string): boolean {
  return cidrMatchBits(ip, cidr) !== undefined;
}

function mask(bits: number): bigint {
  return (ALL_ONES << BigInt(128 - bits)) & ALL_ONES;
}

/** Callers have checked the text with isIP, so every part is a decimal octet. */
function parseIpv4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** Callers have checked the text with isIP: at most one "::", hex groups, optionally a dotted IPv4 tail. */
function parseIpv6(text: string): bigint {
  const toGroups = (side: string): number[] => {
    if (side === '') return [];
    const groups: number[] = [];
    for (const part of side.split(':')) {
      if (part.includes('.')) {
        const v4 = Number(parseIpv4(part));
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else {
        groups.push(parseInt(part, 16));
      }
    }
    return groups;
  };
  const gap = text.indexOf('::');
  const head = toGroups(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : toGroups(text.slice(gap + 2));
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}
