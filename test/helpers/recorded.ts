import { readFileSync } from 'node:fs';

/** The upstream's real recorded bodies, copied into `test/fixtures/upstream` (see its README). */
const recordedDir = new URL('../fixtures/upstream/', import.meta.url);

export function recorded(name: string): string {
  return readFileSync(new URL(name, recordedDir), 'utf8');
}

export function recordedJson(name: string): unknown {
  return JSON.parse(recorded(name));
}
