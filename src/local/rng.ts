/**
 * Seeded randomness. `seed` + prompt index + candidate index determine a candidate's stream, so
 * the same request with the same seed gives the same output however candidates are scheduled.
 */
import { randomBytes } from 'node:crypto';

export type Rng = () => number;

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** sfc32: small, fast, and good enough for sampling; 53-bit doubles from two outputs. */
function sfc32(a: number, b: number, c: number, d: number): Rng {
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

/** A request-level seed: the caller's, or a fresh random one when none was given. */
export function baseSeed(seed: number | undefined): [number, number] {
  if (seed === undefined || !Number.isFinite(seed)) {
    const bytes = randomBytes(8);
    return [bytes.readUInt32LE(0), bytes.readUInt32LE(4)];
  }
  const whole = Math.trunc(seed);
  return [whole >>> 0, Math.floor(whole / 4294967296) >>> 0];
}

export function candidateRng(base: readonly [number, number], promptIndex: number, candidate: number): Rng {
  const a = mix32(base[0] ^ 0x9e3779b9);
  const b = mix32(base[1] ^ mix32(promptIndex + 0x632be5ab));
  const c = mix32(a ^ mix32(candidate + 0x85a308d3));
  return sfc32(a, b, c, mix32(b ^ c ^ 0x27d4eb2f));
}
