import { describe, expect, it } from 'vitest';
import { EARTH_RADIUS_KM, cidrMatchBits, distanceKm, ipInCidr, parseCidr, parseIp } from '../../topology/geo.ts';

describe('distanceKm', () => {
  const london = { lat: 51.5074, lon: -0.1278 };
  const paris = { lat: 48.8566, lon: 2.3522 };

  it('is 0 from a point to itself', () => {
    expect(distanceKm(london, london)).toBe(0);
  });

  it('gives the known London-Paris distance and is symmetric', () => {
    expect(distanceKm(london, paris)).toBeCloseTo(343.6, 0);
    expect(distanceKm(paris, london)).toBe(distanceKm(london, paris));
  });

  it('measures across the antimeridian the short way', () => {
    // Two degrees of the equator, not 358.
    expect(distanceKm({ lat: 0, lon: 179 }, { lat: 0, lon: -179 })).toBeCloseTo((2 * Math.PI * EARTH_RADIUS_KM * 2) / 360, 6);
  });

  it('gives half the circumference for antipodal points and pole to pole', () => {
    const half = Math.PI * EARTH_RADIUS_KM;
    expect(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(half, 6);
    expect(distanceKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(half, 6);
  });
});

describe('ipInCidr', () => {
  it.each([
    ['10.1.2.3', '10.1.0.0/16', true],
    ['10.2.0.1', '10.1.0.0/16', false],
    ['198.51.100.127', '198.51.100.0/25', true],
    ['198.51.100.128', '198.51.100.0/25', false],
    ['203.0.113.7', '203.0.113.7/32', true],
    ['203.0.113.8', '203.0.113.7/32', false],
    ['1.2.3.4', '0.0.0.0/0', true],
    // Host bits in the block are ignored, as routers do.
    ['10.1.2.3', '10.1.9.9/16', true],
    ['2001:db8:1::42', '2001:db8:1::/48', true],
    ['2001:db8:1:ffff:ffff:ffff:ffff:ffff', '2001:db8:1::/48', true],
    ['2001:db8:2::1', '2001:db8:1::/48', false],
    ['2001:0DB8:0001:0000:0000:0000:0000:0001', '2001:db8:1::/48', true],
    ['2001:db8::1', '::/0', true],
    ['fe80::1%eth0', 'fe80::/10', true],
    ['::1', '::1/128', true],
    ['::1', '0.0.0.0/0', false],
    ['10.1.2.3', '2001:db8::/32', false],
  ])('%s in %s → %s', (ip, cidr, expected) => {
    expect(ipInCidr(ip, cidr)).toBe(expected);
  });

  it.each([
    ['::ffff:10.1.2.3', '10.1.0.0/16', true],
    ['::FFFF:10.1.2.3', '10.1.0.0/16', true],
    ['::ffff:a01:203', '10.1.0.0/16', true],
    ['0:0:0:0:0:ffff:10.1.2.3', '10.1.0.0/16', true],
    ['::ffff:10.2.2.3', '10.1.0.0/16', false],
    ['10.1.2.3', '::ffff:10.1.0.0/112', true],
    ['10.2.2.3', '::ffff:10.1.0.0/112', false],
  ])('IPv4-mapped: %s in %s → %s', (ip, cidr, expected) => {
    expect(ipInCidr(ip, cidr)).toBe(expected);
  });

  it('does not treat the IPv4-compatible form ::a.b.c.d as IPv4', () => {
    expect(ipInCidr('::10.1.2.3', '10.1.0.0/16')).toBe(false);
  });

  it.each(['', 'not-an-ip', '10.1.2', '10.1.2.256', '10.1.2.3/32', '2001:db8::1::2', ' '])('treats the malformed address %j as no match', (ip) => {
    expect(ipInCidr(ip, '0.0.0.0/0')).toBe(false);
    expect(ipInCidr(ip, '::/0')).toBe(false);
  });

  it.each(['10.1.0.0', '10.1.0.0/33', '10.1.0.0/-1', '10.1.0.0/', 'x/8', '2001:db8::/129', '10.1.0.0/1.5', ''])('treats the malformed block %j as no match', (cidr) => {
    expect(ipInCidr('10.1.2.3', cidr)).toBe(false);
  });
});

describe('cidrMatchBits', () => {
  it('counts IPv4 prefixes in the 128-bit space so mixed blocks compare by specificity', () => {
    expect(cidrMatchBits('10.1.2.3', '10.1.0.0/16')).toBe(112);
    expect(cidrMatchBits('10.1.2.3', '::ffff:10.1.2.0/120')).toBe(120);
    expect(cidrMatchBits('2001:db8:1::1', '2001:db8:1::/48')).toBe(48);
  });

  it('is undefined without a match', () => {
    expect(cidrMatchBits('10.2.0.1', '10.1.0.0/16')).toBeUndefined();
  });
});

describe('parseIp and parseCidr', () => {
  it('maps IPv4 into ::ffff:0:0/96', () => {
    expect(parseIp('1.2.3.4')).toBe(0xffff_0102_0304n);
    expect(parseIp('::ffff:1.2.3.4')).toBe(parseIp('1.2.3.4'));
  });

  it('expands "::" wherever it stands', () => {
    expect(parseIp('::')).toBe(0n);
    expect(parseIp('::1')).toBe(1n);
    expect(parseIp('1::')).toBe(1n << 112n);
    expect(parseIp('1:2:3:4:5:6:7:8')).toBe(0x0001_0002_0003_0004_0005_0006_0007_0008n);
    expect(parseIp('1::8')).toBe(parseIp('1:0:0:0:0:0:0:8'));
  });

  it('clears host bits of a block', () => {
    expect(parseCidr('10.1.9.9/16')).toEqual({ network: parseIp('10.1.0.0'), bits: 112 });
    expect(parseCidr('2001:db8::/32')).toEqual({ network: parseIp('2001:db8::'), bits: 32 });
  });
});
