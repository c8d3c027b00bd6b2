import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../chaos/duration.ts';
import { faultEndMs, loadScenario, parseScenario } from '../../chaos/scenario.ts';

const SCENARIOS = join('test', 'chaos', 'scenarios');

describe('durations', () => {
  it('reads ms, s, m, h and combinations; refuses anything else', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('20s')).toBe(20_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('20')).toBeUndefined();
    expect(parseDuration('20 s')).toBeUndefined();
    expect(formatDuration(120_000)).toBe('2m');
  });
});

describe('scenario files', () => {
  it('every scenario in test/chaos/scenarios is valid, and every fault ends inside its run', () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(11);
    for (const f of files) {
      const s = loadScenario(join(SCENARIOS, f));
      expect(s.name).toBe(f.replace(/\.yaml$/, ''));
      for (const fault of s.faults) expect(faultEndMs(fault)).toBeLessThanOrEqual(s.duration);
    }
  });

  it('fills in the defaults', () => {
    const s = parseScenario('description: nothing happens\nduration: 10s\n', 'calm.yaml');
    expect(s).toMatchObject({
      name: 'calm',
      duration: 10_000,
      quiet: 120_000,
      faults: [],
      routers: ['us-east', 'eu-west'],
      requires: { brokers: {}, linkProxies: false },
      load: { writesPerSec: 30, ids: 300, deleteEvery: 10, searchesPerSec: 20, searchVia: 'routers', probeEvery: 2_000 },
      checks: { minAvailability: 0.999, maxUnexpectedExits: 0 },
    });
  });

  it('names each problem with its path, value and fix', () => {
    const text = [
      'description: bad',
      'duration: 30s',
      'lode: {}',
      'faults:',
      '  - { at: 10s, action: kill, target: us-east/kafka-0 }',
      '  - { at: 5s, action: link, target: us-east, for: 5s, link: { blackhole: true } }',
      '  - { at: 5s, action: explode, target: x }',
      '  - { at: soon, action: drain, target: us-east, for: 5s }',
    ].join('\n');
    let message = '';
    try {
      parseScenario(text, 'bad.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('Invalid scenario bad.yaml');
    expect(message).toContain('lode: got "lode"; expected no such key (did you mean "load"?)');
    expect(message).toContain('faults[0].restartAfter: got nothing (the key is missing); expected restartAfter for action kill: how long the server stays down');
    expect(message).toContain('faults[1].target: got "us-east"; expected a link "<source>-><target>"');
    expect(message).toContain('faults[2].action: got "explode"; expected one of: kill, pause, stop, rolling-restart, link, drain');
    expect(message).toContain('faults[3].at: got "soon"; expected a duration such as "500ms", "20s", "2m" or "1m30s"');
  });

  it('refuses a fault that outlasts the run', () => {
    expect(() => parseScenario('description: long\nduration: 30s\nfaults:\n  - { at: 5s, action: pause, target: us-east/kafka-1, for: 40s }\n', 'long.yaml')).toThrow(
      'faults[0]: got "a fault ending at 45 s"; expected the fault to end inside the run (the load stops at 30 s); lengthen duration or move the fault',
    );
  });

  it('computes when a repeated fault is over', () => {
    const s = parseScenario('description: r\nduration: 2m\nfaults:\n  - { at: 10s, action: kill, target: us-east/replicator, restartAfter: 1s, every: 15s, times: 7 }\n', 'r.yaml');
    expect(faultEndMs(s.faults[0] as never)).toBe(10_000 + 6 * 15_000 + 1_000);
  });
});
