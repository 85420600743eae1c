import { describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  bf16Tensor,
  f16Tensor,
  f32Tensor,
  float16ToFloat32,
  float32ToBFloat16,
  float32ToFloat16,
  toFloat32,
  type StoredTensor,
} from '../../src/train/safetensors.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

// Files written by the reference implementation (Python `safetensors` 0.8.0,
// `safetensors.numpy.save(tensors, metadata={"format": "pt"})`), as hex.
// F32 only: {"b.weight": [[1.5, -2, 0.25]], "a.bias": [3]}
const REFERENCE_F32 =
  'a0000000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c22612e62696173223a7b2264747970' +
  '65223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b302c345d7d2c22622e776569676874223a7b' +
  '226474797065223a22463332222c227368617065223a5b312c335d2c22646174615f6f666673657473223a5b342c31365d7d7d20202020' +
  '202020000040400000c03f000000c00000803e';
// Mixed: the same plus "a.half": float16 [1, -0.5] (wider dtypes are laid out first).
const REFERENCE_MIXED =
  'd8000000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c22612e62696173223a7b2264747970' +
  '65223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b302c345d7d2c22622e776569676874223a7b' +
  '226474797065223a22463332222c227368617065223a5b312c335d2c22646174615f6f666673657473223a5b342c31365d7d2c22612e68' +
  '616c66223a7b226474797065223a22463136222c227368617065223a5b325d2c22646174615f6f666673657473223a5b31362c32305d7d' +
  '7d202020000040400000c03f000000c00000803e003c00b8';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function referenceTensors(withHalf: boolean): Map<string, StoredTensor> {
  const tensors = new Map<string, StoredTensor>();
  tensors.set('b.weight', f32Tensor([1, 3], new Float32Array([1.5, -2, 0.25])));
  if (withHalf) tensors.set('a.half', f16Tensor([2], new Float32Array([1, -0.5])));
  tensors.set('a.bias', f32Tensor([1], new Float32Array([3])));
  return tensors;
}

function randomTensors(seed: number): Map<string, StoredTensor> {
  const rng = new Rng(seed);
  const tensors = new Map<string, StoredTensor>();
  const shapes: [string, number[]][] = [
    ['backbone.layers.0.mixer.conv1d.weight', [8, 1, 4]],
    ['backbone.embeddings.weight', [61, 5]],
    ['backbone.norm_f.weight', [5]],
    ['backbone.layers.0.mixer.D', [8]],
    ['scalar', []],
  ];
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    tensors.set(name, f32Tensor(shape, data));
  }
  return tensors;
}

describe('safetensors writer', () => {
  it('writes the same bytes as the reference implementation (F32)', () => {
    expect(hex(encodeSafetensors(referenceTensors(false)))).toBe(REFERENCE_F32);
  });

  it('writes the same bytes as the reference implementation (mixed F32 and F16)', () => {
    expect(hex(encodeSafetensors(referenceTensors(true)))).toBe(REFERENCE_MIXED);
  });

  it('writes a header that follows the format spec', () => {
    const bytes = encodeSafetensors(randomTensors(1));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    // Tensor data starts 8-aligned; the padding is spaces; the header is a JSON object.
    expect((8 + n) % 8).toBe(0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    expect(text.startsWith('{')).toBe(true);
    expect(/^[^]*\} *$/.test(text)).toBe(true);
    const header = JSON.parse(text);
    const keys = Object.keys(header);
    expect(keys[0]).toBe('__metadata__');
    expect(header.__metadata__).toEqual({ format: 'pt' });
    // Tensors sorted by name, contiguous from 0, covering the rest of the file exactly.
    const names = keys.slice(1);
    expect(names).toEqual([...names].sort());
    let offset = 0;
    for (const name of names) {
      const entry = header[name];
      expect(entry.dtype).toBe('F32');
      expect(entry.data_offsets[0]).toBe(offset);
      offset = entry.data_offsets[1];
      expect(offset - entry.data_offsets[0]).toBe(4 * entry.shape.reduce((a: number, b: number) => a * b, 1));
    }
    expect(8 + n + offset).toBe(bytes.length);
  });
});

describe('safetensors round trip', () => {
  it('decodes what it encodes and re-encodes byte for byte', () => {
    const tensors = randomTensors(7);
    const bytes = encodeSafetensors(tensors, { format: 'pt', step: '12' });
    const file = decodeSafetensors(bytes, 'x.safetensors');
    expect(file.metadata).toEqual({ format: 'pt', step: '12' });
    expect([...file.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      expect(file.tensors.get(name)!.shape).toEqual(t.shape);
      expect(Buffer.from((file.tensors.get(name)!.data as Float32Array).buffer)).toEqual(Buffer.from((t.data as Float32Array).buffer));
    }
    expect(hex(encodeSafetensors(file.tensors, file.metadata))).toBe(hex(bytes));
  });

  it('reads the reference files, widening F16 exactly', () => {
    const file = decodeSafetensors(Buffer.from(REFERENCE_MIXED, 'hex'), 'ref.safetensors');
    expect(Array.from(toFloat32(file.tensors.get('b.weight')!))).toEqual([1.5, -2, 0.25]);
    expect(Array.from(toFloat32(file.tensors.get('a.half')!))).toEqual([1, -0.5]);
    expect(file.tensors.get('a.half')!.dtype).toBe('F16');
  });

  it('reads a header whose data starts unaligned in the buffer', () => {
    const bytes = encodeSafetensors(randomTensors(3));
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const file = decodeSafetensors(shifted, 'x');
    expect(Array.from(toFloat32(file.tensors.get('backbone.norm_f.weight')!))).toEqual(Array.from(randomTensors(3).get('backbone.norm_f.weight')!.data));
  });
});

describe('safetensors refusals', () => {
  const good = encodeSafetensors(randomTensors(5));
  const refuse = (bytes: Uint8Array, pattern: RegExp) => {
    let error: unknown;
    try {
      decodeSafetensors(bytes, '/ckpt/model.safetensors');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/^\/ckpt\/model\.safetensors: /);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).not.toContain('\n');
  };

  it('refuses a file truncated anywhere', () => {
    refuse(good.subarray(0, 5), /shorter than the 8-byte header/);
    refuse(good.subarray(0, 40), /runs past the end/);
    refuse(good.subarray(0, good.length - 3), /truncated/);
  });

  it('refuses trailing bytes, bad JSON, bad offsets and unknown dtypes', () => {
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    refuse(longer, /bytes after the last tensor/);
    const badJson = good.slice();
    badJson[8] = 0x5b; // '[' instead of '{'
    refuse(badJson, /not UTF-8 JSON|not a JSON object/);
    const withHeader = (header: object, dataBytes: number) => {
      const json = Buffer.from(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    refuse(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /spans 4 bytes but F32 \[2\] needs 8/);
    refuse(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /gap before tensor a/);
    refuse(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlaps/);
    refuse(withHeader({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, 1), /unknown dtype/);
    refuse(withHeader({ a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, 4), /only F32, F16 and BF16/);
    refuse(withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /bad shape/);
    refuse(withHeader({ __metadata__: { step: 3 } }, 0), /__metadata__\.step is not a string/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    refuse(huge, /over the 100 MB limit/);
  });
});

describe('half precision', () => {
  it('converts known values both ways', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [2 ** -24, 0x0001], [2 ** -14, 0x0400],
      [Infinity, 0x7c00], [0.333251953125, 0x3555],
    ];
    for (const [value, word] of cases) {
      expect(float32ToFloat16(value)).toBe(word);
      expect(Object.is(float16ToFloat32(word), value)).toBe(true);
    }
    expect(float32ToFloat16(65520)).toBe(0x7c00); // rounds up to infinity
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(NaN)))).toBe(true);
  });

  it('round-trips every finite half exactly', () => {
    const wrong: number[] = [];
    for (let word = 0; word < 0x10000; word++) {
      if ((word & 0x7c00) === 0x7c00) continue;
      if (float32ToFloat16(float16ToFloat32(word)) !== word) wrong.push(word);
    }
    expect(wrong).toEqual([]);
  });
});

describe('bfloat16', () => {
  it('keeps the top 16 bits, rounding the rest to nearest even', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3f80], [-2, 0xc000], [Infinity, 0x7f80], [-Infinity, 0xff80], [3.140625, 0x4049],
    ];
    for (const [value, word] of cases) expect(float32ToBFloat16(value), String(value)).toBe(word);
    expect(float32ToBFloat16(1 + 2 ** -8)).toBe(0x3f80); // tie, kept word even: down
    expect(float32ToBFloat16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, kept word odd: up
    expect(float32ToBFloat16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie: up
    expect(float32ToBFloat16(3.4028234663852886e38)).toBe(0x7f80); // the largest float rounds up to infinity
    expect(float32ToBFloat16(NaN) & 0x7fc0).toBe(0x7fc0);
  });

  it('round-trips every finite bfloat16 exactly through the file format', () => {
    const words = new Uint16Array(0x10000);
    for (let w = 0; w < 0x10000; w++) words[w] = w;
    const widened = toFloat32({ dtype: 'BF16', shape: [0x10000], data: words });
    const narrowed = bf16Tensor([0x10000], widened).data as Uint16Array;
    const wrong: number[] = [];
    for (let w = 0; w < 0x10000; w++) if ((w & 0x7f80) !== 0x7f80 && narrowed[w] !== w) wrong.push(w);
    expect(wrong).toEqual([]);
  });
});
