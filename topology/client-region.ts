/**
 * Decides which region a client belongs to from whatever hints it sent, strongest first:
 * an explicit region, its IP address, its country, its coordinates, else the default region.
 */
import { describeValue } from '../config/problems.ts';
import { GeoError } from '../core/errors.ts';
import { distanceKm, inCidr, parseIp } from './geo.ts';
import type { LatLon } from './geo.ts';
import type { Topology } from './topology.ts';

/** Raw hints as they arrive in a request; coordinates may still be query-string text. */
export interface ClientHints {
  region?: string | undefined;
  ip?: string | undefined;
  country?: string | undefined;
  lat?: number | string | undefined;
  lon?: number | string | undefined;
}

export type ClientRegionReason = 'explicit' | 'network' | 'country' | 'coordinates' | 'default';

export interface ClientRegion {
  region: string;
  reason: ClientRegionReason;
}

/**
 * The client's home region and which hint decided it. An unknown explicit region throws
 * UNKNOWN_REGION and malformed coordinates throw INVALID_ARGUMENT, even when a stronger hint
 * decides, so a broken caller is noticed; an IP or country that matches nothing falls through.
 */
export function resolveClientRegion(topology: Topology, client: ClientHints): ClientRegion {
  const location = parseCoordinates(client.lat, client.lon);
  const explicit = given(client.region);
  if (explicit !== undefined) return { region: topology.region(explicit).name, reason: 'explicit' };

  const ip = given(client.ip);
  if (ip !== undefined) {
    const byNetwork = regionForIp(topology, ip);
    if (byNetwork !== undefined) return { region: byNetwork, reason: 'network' };
  }

  const country = given(client.country)?.toUpperCase();
  if (country !== undefined) {
    // The schema keeps configured codes upper-case, so only the client's needs normalising.
    const byCountry = topology.regions.find((r) => r.clients.countries.includes(country));
    if (byCountry !== undefined) return { region: byCountry.name, reason: 'country' };
  }

  if (location !== undefined) {
    const nearest = nearestRegion(topology, location);
    if (nearest !== undefined) return { region: nearest, reason: 'coordinates' };
  }

  return { region: topology.defaultRegion, reason: 'default' };
}

/** Longest matching prefix across all regions; ties go to the region listed first. */
function regionForIp(topology: Topology, ip: string): string | undefined {
  const address = parseIp(ip);
  if (address === undefined) return undefined;
  let best: { region: string; bits: number } | undefined;
  for (const { region, block } of topology.networks) {
    if (inCidr(address, block) && (best === undefined || block.bits > best.bits)) best = { region, bits: block.bits };
  }
  return best?.region;
}

/** Nearest by great-circle distance; equal distances go to the alphabetically first name so the answer never depends on file order. */
function nearestRegion(topology: Topology, from: LatLon): string | undefined {
  let best: { region: string; km: number } | undefined;
  for (const region of topology.regions) {
    const km = distanceKm(from, region.location);
    if (best === undefined || km < best.km || (km === best.km && region.name < best.region)) best = { region: region.name, km };
  }
  return best?.region;
}

/** Request parameters arrive as "" when present but empty; that means "not given", not a value. */
function given(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

const RANGES = { lat: 90, lon: 180 } as const;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseCoordinates(lat: number | string | undefined, lon: number | string | undefined): LatLon | undefined {
  const hasLat = isGiven(lat);
  const hasLon = isGiven(lon);
  if (!hasLat && !hasLon) return undefined;
  if (hasLat !== hasLon) {
    const field = hasLat ? 'lon' : 'lat';
    const other = hasLat ? 'lat' : 'lon';
    const value = hasLat ? lon : lat;
    throw invalid(field, value, `${rule(field)}, given together with ${other}`);
  }
  return { lat: coordinate('lat', lat), lon: coordinate('lon', lon) };
}

function isGiven(value: number | string | undefined): boolean {
  return typeof value === 'number' || given(value) !== undefined;
}

function coordinate(field: keyof typeof RANGES, value: number | string | undefined): number {
  const text = typeof value === 'string' ? value.trim() : undefined;
  // Number() would also take "0x10", "Infinity" and " " (as 0); coordinates are plain decimals.
  const n = typeof value === 'number' ? value : text !== undefined && DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || Math.abs(n) > RANGES[field]) throw invalid(field, value, rule(field));
  return n;
}

function rule(field: keyof typeof RANGES): string {
  return `expected a number between -${RANGES[field]} and ${RANGES[field]}`;
}

function invalid(field: string, value: unknown, expected: string): GeoError {
  return new GeoError('INVALID_ARGUMENT', `${field}: got ${describeValue(value)}; ${expected}`, { details: { field, value } });
}
