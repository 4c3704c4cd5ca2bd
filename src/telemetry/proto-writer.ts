/**
 * Protocol Buffers' wire format, written into one growable buffer: what a batch of spans is encoded
 * into as each span ends (see otlp-encoding.ts). Only what OTLP's trace messages use.
 */

const LENGTH_DELIMITED = 2;
const FIXED64 = 1;
const FIXED32 = 5;
const VARINT = 0;

/** A hexadecimal digit's value (ids are lower-case, as the W3C and the API write them). */
function nibble(code: number): number {
  return code <= 57 ? code - 48 : (code | 0x20) - 87;
}

function varintSize(value: number): number {
  let size = 1;
  while (value > 127) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

export class ProtoWriter {
  private buffer: Buffer;
  length = 0;

  constructor(initialSize = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  /** A non-negative integer below 2^53. */
  private varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    while (value > 127) {
      buffer[this.length++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buffer[this.length++] = value;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  uint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  /** An int64: negative values as their 64-bit two's complement (ten bytes), as protobuf writes them. */
  int(field: number, value: number): void {
    if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
      this.uint(field, value);
      return;
    }
    this.tag(field, VARINT);
    this.ensure(10);
    let rest = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    while (rest > 127n) {
      this.buffer[this.length++] = Number(rest & 127n) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.length++] = Number(rest);
  }

  bool(field: number, value: boolean): void {
    this.uint(field, value ? 1 : 0);
  }

  double(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.ensure(8);
    this.length = this.buffer.writeDoubleLE(value, this.length);
  }

  fixed32(field: number, value: number): void {
    this.tag(field, FIXED32);
    this.ensure(4);
    this.length = this.buffer.writeUInt32LE(value >>> 0, this.length);
  }

  /** A fixed64 of nanoseconds since the epoch, from epoch milliseconds (with a fraction). */
  nanos(field: number, ms: number): void {
    // Exact without BigInt: whole ms × 10^6 split into 32-bit halves through 16-bit parts.
    const whole = Math.floor(ms);
    const fraction = Math.round((ms - whole) * 1e6);
    const high = Math.floor(whole / 65_536) * 1e6; // × 2^16 later
    const low = (whole % 65_536) * 1e6 + fraction;
    const carried = (high % 65_536) * 65_536 + low;
    this.tag(field, FIXED64);
    this.ensure(8);
    this.buffer.writeUInt32LE(carried % 4_294_967_296, this.length);
    this.buffer.writeUInt32LE(
      Math.floor(high / 65_536) + Math.floor(carried / 4_294_967_296),
      this.length + 4,
    );
    this.length += 8;
  }

  string(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    const count = value.length;
    // Short ASCII text (names, keys, models), byte by byte: a native write costs more than the copy.
    if (count < 128) {
      this.ensure(count + 1);
      const buffer = this.buffer;
      let at = this.length + 1;
      let i = 0;
      for (; i < count; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buffer[at++] = code;
      }
      if (i === count) {
        buffer[this.length] = count;
        this.length = at;
        return;
      }
    }
    const size = Buffer.byteLength(value);
    this.varint(size);
    this.ensure(size);
    this.length += this.buffer.write(value, this.length, size, 'utf8');
  }

  /** Bytes given as hexadecimal (trace and span ids), decoded as they are written. */
  hex(field: number, value: string): void {
    const size = value.length >>> 1;
    this.tag(field, LENGTH_DELIMITED);
    this.varint(size);
    this.ensure(size);
    const buffer = this.buffer;
    for (let i = 0; i < size; i++) {
      buffer[this.length++] = (nibble(value.charCodeAt(2 * i)) << 4) | nibble(value.charCodeAt(2 * i + 1));
    }
  }

  /** Bytes already in protobuf's wire format (encoded fields), as they are. */
  raw(value: Uint8Array): void {
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /**
   * Opens an embedded message; `close` with what this returns. Its length is not known yet: one
   * byte is kept for it, enough for most (KeyValue, AnyValue); a longer message is moved along.
   */
  open(field: number): number {
    this.tag(field, LENGTH_DELIMITED);
    this.ensure(1);
    this.length++;
    return this.length;
  }

  close(start: number): void {
    const size = this.length - start;
    const extra = varintSize(size) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buffer.copyWithin(start + extra, start, this.length);
    }
    let at = start - 1;
    let value = size;
    while (value > 127) {
      this.buffer[at++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[at] = value;
    this.length += extra;
  }

  /** What was written, copied out; the writer starts again, keeping its buffer. */
  take(): Uint8Array {
    const written = Buffer.from(this.buffer.subarray(0, this.length));
    this.length = 0;
    return written;
  }
}
