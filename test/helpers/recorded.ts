import { readFileSync } from 'node:fs';

/** The upstream's real recorded bodies, shipped beside the project in `../shared/upstream/recorded`. */
const recordedDir = new URL('../../../shared/upstream/recorded/', import.meta.url);

export function recorded(name: string): string {
  return readFileSync(new URL(name, recordedDir), 'utf8');
}

export function recordedJson(name: string): unknown {
  return JSON.parse(recorded(name));
}
