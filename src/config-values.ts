import { readFileSync, statSync } from 'node:fs';

/**
 * Reading one value of the environment, checked: what `config.ts` builds the configuration from. A
 * bad value throws a `ConfigError` naming the variable, which stops the start with that message.
 */

export class ConfigError extends Error {}

export type Env = Record<string, string | undefined>;

export function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function readString(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? fallback : raw;
}

export function optional(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** One of a fixed set of words (case-insensitive). */
export function readChoice<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = readString(env, name, fallback).toLowerCase();
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${choices.join(', ')}; got "${raw}"`);
}

/** Configuration files (keys, prices, prompts, upstreams) are written by hand: far below this. */
const MAX_CONFIG_FILE_BYTES = 64 * 1024 * 1024;

/** A file named by variable `name`, parsed; a problem stops the start, naming the variable and file. */
export function readFileVariable<T>(
  env: Env,
  name: string,
  parse: (text: string) => T,
  known: abstract new (...args: never[]) => Error,
): T | undefined {
  const file = optional(env[name]);
  if (file === undefined) return undefined;
  let text: string;
  try {
    // A regular file of a sane size: /dev/zero or a FIFO would hang the start, growing memory.
    const stats = statSync(file);
    if (!stats.isFile()) throw new ConfigError(`${name} is not a regular file: ${file}`);
    if (stats.size > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigError(`${name} is over ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB: ${file}`);
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${name} cannot be read: ${file}`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new ConfigError(`${name} ${file}: ${error instanceof known ? error.message : 'unreadable'}`);
  }
}
