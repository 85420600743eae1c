/**
 * The safetensors format (Hugging Face), read and written without dependencies:
 *
 *   [8 bytes: N, little-endian u64] [N bytes: JSON header, padded with spaces] [tensor bytes]
 *
 * The header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to
 * the first byte after the header) plus an optional `__metadata__` object of string values. We write
 * what the reference implementation writes: `__metadata__` first (`{"format":"pt"}` so PyTorch loaders
 * accept it), tensors back to back in sorted-name order (wider dtypes first when dtypes are mixed), and
 * the header padded with spaces so the tensor bytes start at a multiple of 8. Reading checks every number in the header against the file
 * before touching the data, so a truncated or corrupt file is refused with one line naming it.
 */
import { UserError } from '../util/errors.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** One tensor as stored: F32 data as a Float32Array, F16 and BF16 as their raw 16-bit words. */
export interface StoredTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Uint16Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};
const READABLE_DTYPES = new Set<string>(['F32', 'F16', 'BF16']);
// The reference implementation refuses headers over 100 MB; so do we, before allocating anything.
const MAX_HEADER_BYTES = 100_000_000;
// Typed arrays use the platform's byte order; the file is little-endian. Copy bytes directly when they agree.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** A float32 tensor in the form `encodeSafetensors` takes. */
export function f32Tensor(shape: number[], data: Float32Array): StoredTensor {
  return { dtype: 'F32', shape, data };
}

/**
 * Serialises tensors (in any order: the file holds them sorted) with `metadata` in
 * `__metadata__`. Returns the whole file.
 */
export function encodeSafetensors(tensors: Map<string, StoredTensor>, metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  // The reference implementation's order: wider dtypes first, then by name (all-F32 files: by name).
  const names = [...tensors.keys()].sort((a, b) => {
    const width = BYTES_PER_ELEMENT[tensors.get(b)!.dtype] - BYTES_PER_ELEMENT[tensors.get(a)!.dtype];
    return width !== 0 ? width : a < b ? -1 : a > b ? 1 : 0;
  });
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    const count = elementCount(tensor.shape);
    if (tensor.data.length !== count) {
      throw new Error(`safetensors: tensor ${name} has ${tensor.data.length} values but shape [${tensor.shape}] needs ${count}`);
    }
    const expectedArray = tensor.dtype === 'F32' ? Float32Array : Uint16Array;
    if (!(tensor.data instanceof expectedArray)) throw new Error(`safetensors: tensor ${name} (${tensor.dtype}) has the wrong array type`);
    const bytes = count * BYTES_PER_ELEMENT[tensor.dtype];
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const file = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(file.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  file.set(json, 8);
  file.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const name of names) {
    const data = tensors.get(name)!.data;
    writeLittleEndian(view, position, data);
    position += data.byteLength;
  }
  return file;
}

function writeLittleEndian(view: DataView, position: number, data: Float32Array | Uint16Array): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(view.buffer, view.byteOffset + position, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) view.setFloat32(position + 4 * i, data[i], true);
  } else {
    for (let i = 0; i < data.length; i++) view.setUint16(position + 2 * i, data[i], true);
  }
}

/**
 * Parses a whole safetensors file. `file` names it in error messages. Every problem is a UserError:
 * `<file>: <what is wrong>`.
 */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const bad = (problem: string) => new UserError(`${file}: not a valid safetensors file: ${problem}`);
  if (bytes.length < 8) throw bad(`${bytes.length} bytes, shorter than the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${headerLength} is over the 100 MB limit`);
  const n = Number(headerLength);
  if (8 + n > bytes.length) throw bad(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    throw bad(`header is not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, bad);
      continue;
    }
    entries.push(parseEntry(name, value, bad));
  }
  // Tensors must tile the data buffer exactly: no gaps, no overlaps, nothing past the end.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const entry of byOffset) {
    if (entry.begin !== expected) {
      throw bad(entry.begin < expected ? `tensor ${entry.name} overlaps another tensor` : `gap before tensor ${entry.name} at byte ${expected}`);
    }
    expected = entry.end;
  }
  if (expected !== dataLength) {
    throw bad(expected > dataLength
      ? `tensors need ${expected} data bytes but the file holds ${dataLength} (truncated?)`
      : `${dataLength - expected} bytes after the last tensor`);
  }
  const tensors = new Map<string, StoredTensor>();
  for (const entry of entries) {
    if (!READABLE_DTYPES.has(entry.dtype)) throw bad(`tensor ${entry.name} has dtype ${entry.dtype}; only F32, F16 and BF16 are read`);
    const count = elementCount(entry.shape);
    const at = dataStart + entry.begin;
    let data: Float32Array | Uint16Array;
    if (entry.dtype === 'F32') {
      data = new Float32Array(count);
      if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(dataStart + entry.begin, dataStart + entry.end));
      else for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + 4 * i, true);
    } else {
      data = new Uint16Array(count);
      if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(dataStart + entry.begin, dataStart + entry.end));
      else for (let i = 0; i < count; i++) data[i] = view.getUint16(at + 2 * i, true);
    }
    tensors.set(entry.name, { dtype: entry.dtype as SafetensorsDtype, shape: entry.shape, data });
  }
  return { tensors, metadata };
}

function parseMetadata(value: unknown, bad: (problem: string) => UserError): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('__metadata__ is not an object');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(`__metadata__.${key} is not a string`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, bad: (problem: string) => UserError) {
  if (typeof value !== 'object' || value === null) throw bad(`entry ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) throw bad(`tensor ${name} has unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`tensor ${name} has a bad shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
    throw bad(`tensor ${name} has bad data_offsets ${JSON.stringify(offsets)}`);
  }
  const bytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
  if (offsets[1] - offsets[0] !== bytes) {
    throw bad(`tensor ${name} spans ${offsets[1] - offsets[0]} bytes but ${dtype} [${shape}] needs ${bytes}`);
  }
  return { name, dtype, shape: shape as number[], begin: offsets[0] as number, end: offsets[1] as number };
}

/** The tensor's values as float32 (F16 and BF16 widened exactly). */
export function toFloat32(tensor: StoredTensor): Float32Array {
  if (tensor.dtype === 'F32') return tensor.data as Float32Array;
  const words = tensor.data as Uint16Array;
  const out = new Float32Array(words.length);
  if (tensor.dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < words.length; i++) bits[i] = words[i] << 16;
  } else {
    for (let i = 0; i < words.length; i++) out[i] = float16ToFloat32(words[i]);
  }
  return out;
}

/** IEEE half -> float (exact). */
export function float16ToFloat32(word: number): number {
  const sign = word & 0x8000 ? -1 : 1;
  const exponent = (word >> 10) & 0x1f;
  const fraction = word & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float -> IEEE half, rounding to nearest even (overflow to infinity, underflow through subnormals). */
export function float32ToFloat16(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the full significand (with its implicit 1) into place, rounding to even.
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && (result & 1))) result++;
    return sign | result;
  }
  const rest = mantissa & 0x1fff;
  mantissa >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && (mantissa & 1))) {
    mantissa++;
    if (mantissa === 0x400) {
      mantissa = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mantissa;
}

/** float -> bfloat16 (the top 16 bits of the float), rounding to nearest even; NaN stays a quiet NaN. */
export function float32ToBFloat16(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  // Adding 0x7fff plus the kept word's lowest bit rounds the dropped half to even (and carries into
  // the exponent, up to infinity, as it should).
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A float32 tensor narrowed to BF16 for storage. */
export function bf16Tensor(shape: number[], data: Float32Array): StoredTensor {
  const words = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) words[i] = float32ToBFloat16(data[i]);
  return { dtype: 'BF16', shape, data: words };
}

/** A float32 tensor narrowed to F16 for storage. */
export function f16Tensor(shape: number[], data: Float32Array): StoredTensor {
  const words = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) words[i] = float32ToFloat16(data[i]);
  return { dtype: 'F16', shape, data: words };
}
