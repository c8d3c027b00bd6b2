/**
 * The georeplica command. Operators get plain messages, never stack traces, for anything
 * in the error catalogue; only a genuine bug prints a stack.
 */
import { parseArgs } from 'node:util';
import { GeoError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { controlCommand, downCommand, endpointsCommand, fetchCommand, resolvePathArg, statusCommand, upCommand } from './runtime-commands.ts';
import type { CommonFlags } from './runtime-commands.ts';
import { chaosCommand } from './chaos-command.ts';
import { drainCommand } from './drain-command.ts';
import { linkCommand } from './link-command.ts';
import { translateCommand } from './translate-command.ts';

const USAGE = `Usage: georeplica <command> [options]

Local multi-region runtime:
  fetch                      fetch Kafka and OpenSearch from Maven Central (up does this too)
  up [--brokers N|R=N]       start every region (idempotent) and print the endpoints
  down [--purge]             stop everything the runtime started (--purge also deletes data)
  status [--json]            each server's ports, pid, process state and health
  endpoints [--json]         each region's Kafka bootstrap and search URL
  kill|stop|pause|resume|start <server>
                             SIGKILL | SIGTERM | SIGSTOP | SIGCONT | start again, for one server
                             ("us-east/kafka-0", "us-east/opensearch"), a region's brokers
                             ("us-east/kafka") or a whole region ("us-east")

Failover:
  translate --group G --from R1 --to R2 [--topic T]... [--apply] [--wait [--timeout S]] [--json]
                             translate group G's committed offsets in R1 into R2's copies;
                             --apply commits them for G in R2 (G's consumers there must be
                             stopped), --wait waits (default 60 s) until every partition is
                             exact; exits 3 when some partition is not exact yet

Routing:
  drain <region> --reason "<why>" [--router URL]... [--no-wait] [--timeout S]
                             stop sending searches to the region (every router, within 1 s);
                             waits until no router has a search in flight to it
  undrain <region> [--reason "<why>"] [--router URL]... [--no-wait] [--timeout S]
                             send searches to it again once it is healthy and fresh, ramping
                             up over the slow-start window; waits until it has its full share.
                             Both print progress (in flight, freshness), use the admin token
                             from the config, and exit 3 when --timeout (default 120 s) passes

Chaos:
  link <source> <target> [--blackhole] [--reset] [--latency MS] [--bandwidth SIZE] [--heal] [--clear] [--for DURATION]
                             faults of the link proxy through which <target>'s replicator reaches
                             <source>'s brokers (needs runtime.linkProxies): --blackhole forwards
                             nothing, --reset resets every connection, --latency sets the one-way
                             latency per direction, --bandwidth caps each direction (1mb, 512kib,
                             none), --heal lifts blackhole and reset, --clear restores the
                             baseline, --for 90s makes the proxy itself restore it after that
                             long; with no option, prints the link's faults
  chaos run <scenario.yaml>... [--out report.json]
                             run chaos scenarios (docs/CHAOS.md) on their own runtime (default
                             .regions/chaos, started if needed) and check that nothing was lost
                             or duplicated and that clients were served; exits 3 on a failed check

Options:
  --config <file>            deployment file (default: $GEOREPLICA_CONFIG or topology/regions.local.yaml)
  --state-dir <dir>          runtime state directory (default: the config's runtime.stateDir)
  --json                     machine-readable output
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'state-dir': { type: 'string' },
      brokers: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      purge: { type: 'boolean' },
      group: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      topic: { type: 'string', multiple: true },
      apply: { type: 'boolean' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      reason: { type: 'string' },
      router: { type: 'string', multiple: true },
      'no-wait': { type: 'boolean' },
      blackhole: { type: 'boolean' },
      reset: { type: 'boolean' },
      latency: { type: 'string' },
      bandwidth: { type: 'string' },
      heal: { type: 'boolean' },
      clear: { type: 'boolean' },
      for: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const flags: CommonFlags = {
    config: values.config === undefined ? undefined : resolvePathArg(values.config),
    stateDir: values['state-dir'] === undefined ? undefined : resolvePathArg(values['state-dir']),
    brokers: values.brokers,
    json: values.json,
    purge: values.purge,
  };
  const log = createLogger({ name: 'georeplica-cli', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' });
  switch (command) {
    case 'fetch':
      fetchCommand(createLogger({ name: 'georeplica-cli', level: 'info' }));
      return 0;
    case 'up':
      await upCommand(flags, createLogger({ name: 'georeplica-cli', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'info' }));
      return 0;
    case 'down':
      await downCommand(flags, log);
      return 0;
    case 'status':
      return statusCommand(flags, log);
    case 'endpoints':
      endpointsCommand(flags, log);
      return 0;
    case 'kill':
    case 'stop':
    case 'pause':
    case 'resume':
    case 'start':
      await controlCommand(command, rest[0], flags, log);
      return 0;
    case 'translate':
      return translateCommand({ ...flags, group: values.group, from: values.from, to: values.to, topic: values.topic, apply: values.apply, wait: values.wait, timeout: values.timeout }, log);
    case 'drain':
    case 'undrain':
      return drainCommand(command, rest[0], { ...flags, reason: values.reason, router: values.router, noWait: values['no-wait'], timeout: values.timeout }, log);
    case 'chaos':
      return chaosCommand(rest, { ...flags, out: values.out === undefined ? undefined : resolvePathArg(values.out) }, createLogger({ name: 'georeplica-chaos', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' }));
    case 'link':
      return linkCommand(rest, { ...flags, blackhole: values.blackhole, reset: values.reset, latency: values.latency, bandwidth: values.bandwidth, heal: values.heal, clear: values.clear, for: values.for }, log);
    default:
      console.error(`georeplica: unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof GeoError) {
      console.error(`georeplica: ${err.message}`);
      process.exitCode = err.code === 'INVALID_ARGUMENT' ? 2 : 1;
    } else if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`georeplica: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error('georeplica: unexpected failure (a bug; please report it with this trace):');
      console.error(err);
      process.exitCode = 70;
    }
  },
);
