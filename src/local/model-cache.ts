/**
 * The model's on-disk form: a small JSON header then the typed arrays, each 8-byte aligned, so a
 * load is one file read plus views onto it (no parsing, no per-entry work). The header carries a
 * format version and the build key (hash of corpus + parameters); any mismatch means "rebuild".
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LevelArrays, ModelArrays } from './ngram-model.js';

export const CACHE_FORMAT_VERSION = 1;
const MAGIC = 0x4d52474e; // "NGRM" little-endian

type Typed = Uint32Array | Int32Array | Float64Array;
const CONSTRUCTORS = { u32: Uint32Array, i32: Int32Array, f64: Float64Array } as const;
type TypeName = keyof typeof CONSTRUCTORS;
const LEVEL_FIELDS = [
  'ctxTok',
  'ctxOff',
  'ctxInvTotal',
  'ctxGamma',
  'succTok',
  'succCount',
  'table',
  'discounts',
] as const satisfies readonly (keyof LevelArrays)[];

interface Header {
  key: string;
  order: number;
  arrays: { name: string; type: TypeName; length: number }[];
}

function typeName(array: Typed): TypeName {
  if (array instanceof Float64Array) return 'f64';
  return array instanceof Int32Array ? 'i32' : 'u32';
}

function namedArrays(model: ModelArrays): [string, Typed][] {
  const named: [string, Typed][] = [];
  model.levels.forEach((level, i) => {
    for (const field of LEVEL_FIELDS) named.push([`${i + 2}.${field}`, level[field]]);
  });
  named.push(['unigram', model.unigram], ['seenSorted', model.seenSorted]);
  named.push(['rankOf', model.rankOf], ['unseen', model.unseen]);
  return named;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

export function cacheFileName(key: string): string {
  return `local-ngram-${key.slice(0, 16)}.bin`;
}

export async function writeModelCache(dir: string, key: string, model: ModelArrays): Promise<string> {
  const named = namedArrays(model);
  const header: Header = {
    key,
    order: model.order,
    arrays: named.map(([name, array]) => ({ name, type: typeName(array), length: array.length })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const dataStart = align8(12 + headerBytes.length);
  const total = named.reduce((size, [, array]) => align8(size + array.byteLength), dataStart);
  const out = Buffer.alloc(total);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(CACHE_FORMAT_VERSION, 4);
  out.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(out, 12);
  let offset = dataStart;
  for (const [, array] of named) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset);
    offset = align8(offset + array.byteLength);
  }
  await mkdir(dir, { recursive: true });
  const file = join(dir, cacheFileName(key));
  // Write-then-rename: a reader (another test worker, another process) never sees half a file.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, out);
  await rename(temp, file);
  await removeStale(dir, cacheFileName(key));
  return file;
}

async function removeStale(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith('local-ngram-') && name.endsWith('.bin') && name !== keep) {
      await rm(join(dir, name), { force: true });
    }
  }
}

/** The cached model for `key`, or undefined when absent, stale or unreadable. */
export async function readModelCache(dir: string, key: string): Promise<ModelArrays | undefined> {
  let file: Buffer;
  try {
    file = await readFile(join(dir, cacheFileName(key)));
  } catch {
    return undefined;
  }
  if (file.length < 12 || file.readUInt32LE(0) !== MAGIC || file.readUInt32LE(4) !== CACHE_FORMAT_VERSION) {
    return undefined;
  }
  const headerLength = file.readUInt32LE(8);
  let header: Header;
  try {
    header = JSON.parse(file.subarray(12, 12 + headerLength).toString('utf8')) as Header;
  } catch {
    return undefined;
  }
  if (header.key !== key) return undefined;
  // Typed-array views need 8-byte alignment of the underlying offset.
  const bytes = file.byteOffset % 8 === 0 ? file : Buffer.from(file);
  const arrays = new Map<string, Typed>();
  let offset = align8(12 + headerLength);
  for (const { name, type, length } of header.arrays) {
    const Ctor = CONSTRUCTORS[type];
    const byteLength = length * Ctor.BYTES_PER_ELEMENT;
    if (offset + byteLength > bytes.length) return undefined;
    arrays.set(name, new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset + offset, length));
    offset = align8(offset + byteLength);
  }
  const get = <T extends Typed>(name: string, ctor: abstract new (...args: never[]) => T): T => {
    const array = arrays.get(name);
    if (!(array instanceof ctor)) throw new Error(`model cache: missing ${name}`);
    return array;
  };
  try {
    const levels: LevelArrays[] = [];
    for (let k = 2; k <= header.order; k++) {
      levels.push({
        ctxTok: get(`${k}.ctxTok`, Uint32Array),
        ctxOff: get(`${k}.ctxOff`, Uint32Array),
        ctxInvTotal: get(`${k}.ctxInvTotal`, Float64Array),
        ctxGamma: get(`${k}.ctxGamma`, Float64Array),
        succTok: get(`${k}.succTok`, Uint32Array),
        succCount: get(`${k}.succCount`, Uint32Array),
        table: get(`${k}.table`, Int32Array),
        discounts: get(`${k}.discounts`, Float64Array),
      });
    }
    return {
      order: header.order,
      levels,
      unigram: get('unigram', Float64Array),
      seenSorted: get('seenSorted', Uint32Array),
      rankOf: get('rankOf', Int32Array),
      unseen: get('unseen', Uint32Array),
    };
  } catch {
    return undefined;
  }
}
