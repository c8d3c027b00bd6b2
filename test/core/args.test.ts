import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePortArg, parseServiceArgs } from '../../core/args.ts';
import { GeoError } from '../../core/errors.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';

const config = join(PROJECT_ROOT, 'topology', 'regions.local.yaml');

function refusal(fn: () => unknown): GeoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GeoError);
    return err as GeoError;
  }
  throw new Error('expected a refusal');
}

describe('service arguments', () => {
  it("takes the region's own port for the service unless a port flag is given", () => {
    expect(parseServiceArgs('search', { argv: ['--region', 'eu-west', '--config', config] })).toMatchObject({ region: 'eu-west', port: 12020, extra: {} });
    expect(parseServiceArgs('replicator', { portFlag: 'admin-port', extra: ['sources'], argv: ['--region', 'us-east', '--config', config, '--admin-port', '0', '--sources', 'eu-west'] })).toMatchObject({ port: 0, extra: { sources: 'eu-west' } });
    // The runtime's marker is accepted and ignored.
    expect(parseServiceArgs('ingest', { argv: ['--region', 'us-east', '--config', config, '--georeplica-state=/x'] }).port).toBe(11010);
  });

  it('refuses a missing or unknown region, a bad port and an unknown flag, naming them', () => {
    expect(refusal(() => parseServiceArgs('search', { argv: ['--config', config] })).message).toBe('--region <region> is required, e.g. --region us-east.');
    const unknown = refusal(() => parseServiceArgs('search', { argv: ['--region', 'mars', '--config', config] }));
    expect(unknown.code).toBe('UNKNOWN_REGION');
    expect(unknown.message).toBe('Unknown region "mars". Valid regions: us-east, eu-west, ap-southeast.');
    expect(refusal(() => parsePortArg('80a')).message).toBe('--port: got "80a"; expected a port number (integer 1-65535, or 0 for any free port).');
    expect(refusal(() => parsePortArg('70000', '--admin-port')).message).toBe('--admin-port: got "70000"; expected a port number (integer 1-65535, or 0 for any free port).');
    const flag = refusal(() => parseServiceArgs('search', { argv: ['--region', 'us-east', '--verbose'] }));
    expect(flag.code).toBe('INVALID_ARGUMENT');
    expect(flag.message).toMatch(/^Unknown option '--verbose'.*The search takes --region, --config, --port\.$/s);
  });
});
