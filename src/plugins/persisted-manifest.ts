import { createHash } from 'node:crypto';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class ManifestError extends Error {}

/**
 * A manifest of trusted documents: the client preset's `{ "<sha256>": "<document>" }`, or Apollo's
 * persisted query manifest (`{ format: "apollo-persisted-query-manifest", operations: [{ id, body }] }`).
 * Every id must be the sha256 of its document, so a manifest cannot smuggle in a document under
 * another document's id.
 */
export function parseManifest(text: string): Map<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ManifestError('is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManifestError('must be an object of sha256 → document');
  }
  const record = value as Record<string, unknown>;
  const entries: [string, unknown][] =
    record.format === 'apollo-persisted-query-manifest' && Array.isArray(record.operations)
      ? (record.operations as { id?: unknown; body?: unknown }[]).map((op) => [String(op.id), op.body])
      : Object.entries(record);
  const manifest = new Map<string, string>();
  for (const [rawId, document] of entries) {
    const id = rawId.replace(/^sha256:/, '').toLowerCase();
    if (typeof document !== 'string' || document.trim() === '') {
      throw new ManifestError(`entry ${rawId}: the document must be a non-empty string`);
    }
    if (sha256(document) !== id)
      throw new ManifestError(`entry ${rawId}: the id is not the document's sha256`);
    manifest.set(id, document);
  }
  return manifest;
}
