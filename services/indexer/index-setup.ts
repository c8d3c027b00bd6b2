/**
 * The index behind the alias: `<base>-v1` with the mappings kept in ./mappings, reached through
 * the alias `<base>` (its write index). Created at start when missing; an existing one is kept.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@opensearch-project/opensearch';
import { searchError } from './search-errors.ts';

export const MAPPING_VERSION = 1;

export function loadMappings(version = MAPPING_VERSION): Record<string, unknown> {
  const url = new URL(`./mappings/documents-v${version}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

export function indexNameFor(alias: string, version = MAPPING_VERSION): string {
  return `${alias}-v${version}`;
}

/** Ensures the versioned index and its alias exist; returns the concrete index name. */
export async function ensureIndex(client: Client, alias: string): Promise<string> {
  const index = indexNameFor(alias);
  try {
    const exists = await client.indices.existsAlias({ name: alias });
    if (exists.body) return index;
    const indexExists = await client.indices.exists({ index });
    if (!indexExists.body) {
      try {
        await client.indices.create({ index, body: { ...loadMappings(), aliases: { [alias]: { is_write_index: true } } } });
        return index;
      } catch (err) {
        // Another indexer of this region created it first.
        if (!String((err as { body?: { error?: { type?: string } } }).body?.error?.type).includes('resource_already_exists')) throw err;
      }
    }
    await client.indices.putAlias({ index, name: alias, body: { is_write_index: true } });
    return index;
  } catch (err) {
    throw searchError(err, `creating index ${index} behind alias ${alias}`);
  }
}
