import { GeoError } from '../../core/errors.ts';

/** Runs `fn` and returns the GeoError it throws; fails the test if it throws nothing or something else. */
export function thrown(fn: () => unknown): GeoError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GeoError) return err;
    throw err;
  }
  throw new Error('expected a GeoError, but nothing was thrown');
}
