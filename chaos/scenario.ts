/**
 * A chaos scenario: a small declarative YAML file (docs/CHAOS.md) with the load to run, the
 * faults to inject and when, how long to wait for the system to settle, and the checks. Strict:
 * an unknown key, a fault missing what its action needs, or a fault outlasting the run is an
 * error naming the field, the value and the fix.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { REGION_NAME } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import { parseStrict } from '../core/strict-parse.ts';
import { durationSchema } from './duration.ts';

const regionName = z.string().regex(REGION_NAME, 'expected a region name, e.g. "us-east"');
const HOUR = 3_600_000;

export const FAULT_ACTIONS = ['kill', 'pause', 'stop', 'rolling-restart', 'link', 'drain'] as const;

const LinkChangeSchema = z.strictObject({
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  blackhole: z.boolean().optional(),
  reset: z.boolean().optional(),
  bandwidthBytesPerSec: z.number().int().min(1_024).nullable().optional(),
});

export const FaultSchema = z
  .strictObject({
    /** When the fault starts, from the start of the load. */
    at: durationSchema(HOUR),
    /**
     * kill: SIGKILL, started again after `restartAfter`. pause: SIGSTOP, SIGCONT after `for`.
     * stop: SIGTERM (a clean shutdown), started again after `restartAfter`. rolling-restart:
     * SIGTERM and start again, one server after the other (`restartAfter` between stop and start).
     * link: the link faults in `link`, cleared after `for`. drain: drain the region through the
     * routers, undrain after `for`.
     */
    action: z.enum(FAULT_ACTIONS, { error: `expected one of: ${FAULT_ACTIONS.join(', ')}` }),
    /**
     * A server ("us-east/kafka-0", "us-east/opensearch", "us-east/replicator", "us-east/router"),
     * all of a region's brokers ("us-east/kafka"), the broker leading most partitions of the
     * region's documents topic when the fault starts ("us-east/kafka-leader"), a link
     * ("us-east->eu-west": eu-west's replicator pulling us-east) or, for drain, a region.
     */
    target: z.string().min(1, 'expected a target such as "us-east/kafka-0", "us-east->eu-west" or "us-east"'),
    restartAfter: durationSchema(HOUR).optional(),
    for: durationSchema(HOUR).optional(),
    /** Repeats the fault every so often, `times` times in all. */
    every: durationSchema(HOUR).optional(),
    times: z.number().int().min(1).max(1_000).optional(),
    link: LinkChangeSchema.optional(),
    /** kill, stop, rolling-restart: drain the target's region through the routers first and undrain it after the restart, as for planned maintenance. */
    drain: z.boolean().optional(),
  })
  .superRefine((f, ctx) => {
    const need = (key: 'restartAfter' | 'for' | 'link', why: string): void => {
      if (f[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], input: undefined, message: `expected ${key} for action ${f.action}: ${why}` });
    };
    const forbid = (key: 'restartAfter' | 'for' | 'link'): void => {
      if (f[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], input: f[key], message: `expected no ${key} for action ${f.action}; remove it` });
    };
    switch (f.action) {
      case 'kill':
      case 'stop':
        need('restartAfter', 'how long the server stays down, e.g. "20s"');
        forbid('for');
        forbid('link');
        break;
      case 'rolling-restart':
        need('restartAfter', 'how long each server stays down, e.g. "5s"');
        forbid('for');
        forbid('link');
        break;
      case 'pause':
      case 'drain':
        need('for', 'how long it lasts, e.g. "30s"');
        forbid('restartAfter');
        forbid('link');
        break;
      case 'link':
        need('for', 'how long the link faults last, e.g. "60s"');
        need('link', 'the faults, e.g. { blackhole: true }');
        forbid('restartAfter');
        if (!/^[a-z][a-z0-9-]*->[a-z][a-z0-9-]*$/.test(f.target)) ctx.addIssue({ code: 'custom', path: ['target'], input: f.target, message: 'expected a link "<source>-><target>", e.g. "us-east->eu-west"' });
        break;
    }
    if (f.drain && !['kill', 'stop', 'rolling-restart'].includes(f.action)) ctx.addIssue({ code: 'custom', path: ['drain'], input: f.drain, message: `expected no drain for action ${f.action} (only kill, stop and rolling-restart drain around a restart); remove it` });
    if ((f.every === undefined) !== (f.times === undefined)) ctx.addIssue({ code: 'custom', path: [f.every === undefined ? 'every' : 'times'], input: undefined, message: 'expected every and times together (repeat every <duration>, <times> times in all)' });
  });

export const ScenarioSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,60}$/, 'expected a short kebab-case name').optional(),
    description: z.string().min(1).max(500),
    /** What the runtime must have; checked before anything starts. */
    requires: z
      .strictObject({
        brokers: z.record(regionName, z.number().int().min(1).max(9)).default({}),
        linkProxies: z.boolean().default(false),
      })
      .prefault({}),
    load: z
      .strictObject({
        /** Writes per second over all regions, spread evenly over their ingest APIs. */
        writesPerSec: z.number().min(1).max(1_000).default(30),
        /** Distinct document ids: most writes update (or delete) one written before. */
        ids: z.number().int().min(1).max(100_000).default(300),
        /** Every n-th write is a delete. */
        deleteEvery: z.number().int().min(2).max(1_000).default(10),
        searchesPerSec: z.number().min(0).max(1_000).default(20),
        /** routers: searches go to the router instances (client-side failover between them); regions: to each region's search API. */
        searchVia: z.enum(['routers', 'regions']).default('routers'),
        /** A write acknowledged in one region is looked for in the others every so often, to measure freshness. */
        probeEvery: durationSchema(60_000).default(2_000),
      })
      .prefault({}),
    /** Router instances, by region (each on its region's router port). */
    routers: z.array(regionName).min(1).max(3).default(['us-east', 'eu-west']),
    /** How long the load runs; every fault starts and ends inside it. */
    duration: durationSchema(HOUR),
    faults: z.array(FaultSchema).default([]),
    /** After the load stops: the longest wait for the system to settle before the checks fail. */
    quiet: durationSchema(HOUR).default(120_000),
    checks: z
      .strictObject({
        /** Successful searches out of all, over the load phase. */
        minAvailability: z.number().min(0).max(1).default(0.999),
        maxSearchErrors: z.number().int().min(0).optional(),
        maxWriteErrors: z.number().int().min(0).optional(),
        /** Servers that may exit without a fault stopping them: a crash is a failure unless a scenario allows it. */
        maxUnexpectedExits: z.number().int().min(0).default(0),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    s.faults.forEach((f, i) => {
      const end = faultEndMs(f);
      if (end > s.duration) ctx.addIssue({ code: 'custom', path: ['faults', i], input: `a fault ending at ${end / 1000} s`, message: `expected the fault to end inside the run (the load stops at ${s.duration / 1000} s); lengthen duration or move the fault` });
    });
  });

export type Scenario = z.output<typeof ScenarioSchema> & { name: string; file: string };
export type Fault = z.output<typeof FaultSchema>;

/** When the last occurrence of a fault is over (the restart or heal is issued), from the start of the load. */
export function faultEndMs(f: Fault): number {
  const one = f.action === 'rolling-restart' ? (f.restartAfter ?? 0) * 3 : (f.restartAfter ?? f.for ?? 0);
  return f.at + (f.every ?? 0) * ((f.times ?? 1) - 1) + one;
}

export function parseScenario(text: string, file: string): Readonly<Scenario> {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new GeoError('CONFIG_UNREADABLE', [`Cannot parse ${file} as YAML:`, ...doc.errors.map((e) => `  - ${e.message.split('\n')[0] ?? e.message}`)].join('\n'), { details: { file } });
  const parsed = parseStrict(ScenarioSchema, doc.toJS() as unknown, `scenario ${file}`);
  return Object.freeze({ ...parsed, name: parsed.name ?? basename(file).replace(/\.ya?ml$/, ''), file });
}

export function loadScenario(file: string): Readonly<Scenario> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new GeoError('CONFIG_NOT_FOUND', `Cannot read the scenario ${file}: ${(cause as Error).message}`, { cause, details: { file } });
  }
  return parseScenario(text, file);
}
