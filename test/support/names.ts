import { randomUUID } from 'node:crypto';

/** A topic, index or group name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`.toLowerCase();
}
