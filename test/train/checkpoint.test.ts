import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONFIG_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  readConfigJson,
  readModelTensors,
  readOptimizer,
  readTrainerState,
  recoverInterruptedSave,
  writeCheckpoint,
  type CheckpointParts,
} from '../../src/train/checkpoint.js';
import { decodeSafetensors } from '../../src/train/safetensors.js';
import { UserError } from '../../src/util/errors.js';

const SHAPES: [string, number[]][] = [
  ['backbone.embeddings.weight', [5, 3]],
  ['backbone.layers.0.mixer.conv1d.weight', [6, 1, 4]],
  ['backbone.norm_f.weight', [3]],
];

function parts(step: number): CheckpointParts {
  const model = new Map<string, { shape: number[]; data: Float32Array }>();
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, shape] of SHAPES) {
    const size = shape.reduce((a, b) => a * b, 1);
    model.set(name, { shape, data: Float32Array.from({ length: size }, (_, i) => step + i / 8) });
    m.set(name, Float32Array.from({ length: size }, (_, i) => -step - i));
    v.set(name, Float32Array.from({ length: size }, (_, i) => step * i));
  }
  return { config: { d_model: 3, step }, model, optimizer: { step, m, v }, state: { step, note: 'test' } };
}

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gamba-ckpt-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).not.toContain('\n');
    return error as UserError;
  }
  throw new Error('expected a UserError');
}

describe('checkpoint directory', () => {
  it('writes every file and reads back the same values', () => {
    const dir = freshDir();
    writeCheckpoint(dir, parts(3));
    expect(readdirSync(dir).sort()).toEqual([CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE].sort());
    expect(readConfigJson(dir)).toEqual({ d_model: 3, step: 3 });
    const state = readTrainerState(dir);
    expect(state.step).toBe(3);
    const model = readModelTensors(dir, SHAPES);
    expect(Array.from(model.get('backbone.norm_f.weight')!)).toEqual([3, 3.125, 3.25]);
    const optimizer = readOptimizer(dir, SHAPES);
    expect(optimizer.step).toBe(3);
    expect(Array.from(optimizer.v.get('backbone.norm_f.weight')!)).toEqual([0, 3, 6]);
    // The model file holds exactly the parameters, under their own names, in F32.
    const file = decodeSafetensors(readFileSync(join(dir, MODEL_FILE)), MODEL_FILE);
    expect([...file.tensors.keys()].sort()).toEqual(SHAPES.map(([n]) => n).sort());
    expect(file.metadata).toEqual({ format: 'pt' });
  });

  it('keeps the previous checkpoint when a save dies before its commit record is complete', () => {
    const dir = freshDir();
    writeCheckpoint(dir, parts(1));
    // What a kill while writing leaves: half-written temp files of a process that no longer runs.
    const deadPid = 2 ** 22 + 12345;
    writeFileSync(join(dir, `${MODEL_FILE}.tmp-${deadPid}`), readFileSync(join(dir, MODEL_FILE)).subarray(0, 50));
    writeFileSync(join(dir, `${STATE_FILE}.tmp-${deadPid}`), '{"step": 2, "files": {');
    expect(recoverInterruptedSave(dir)).toMatch(/discarded an incomplete checkpoint save/);
    expect(readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(false);
    expect(readTrainerState(dir).step).toBe(1);
    expect(readOptimizer(dir, SHAPES).step).toBe(1);
  });

  it('finishes a save that died between its renames', () => {
    for (let renames = 0; renames <= 3; renames++) {
      const dir = freshDir();
      writeCheckpoint(dir, parts(1));
      expect(() => writeCheckpoint(dir, parts(2), { afterRenames: renames })).toThrow(/simulated kill/);
      // The temp files belong to this (live) process; pretend it died by renaming them to a dead pid.
      for (const f of readdirSync(dir)) {
        if (f.endsWith(`.tmp-${process.pid}`)) {
          writeFileSync(join(dir, f.replace(`.tmp-${process.pid}`, '.tmp-4200000')), readFileSync(join(dir, f)));
          rmSync(join(dir, f));
        }
      }
      expect(recoverInterruptedSave(dir)).toMatch(/finished an interrupted checkpoint save/);
      expect(readTrainerState(dir).step).toBe(2);
      expect(readOptimizer(dir, SHAPES).step).toBe(2);
      expect(readModelTensors(dir, SHAPES).get('backbone.norm_f.weight')![0]).toBe(2);
    }
  });

  it('refuses a truncated model file, naming it', () => {
    const dir = freshDir();
    writeCheckpoint(dir, parts(1));
    truncateSync(join(dir, MODEL_FILE), 100);
    expect(userError(() => readModelTensors(dir, SHAPES)).message).toMatch(new RegExp(`^${join(dir, MODEL_FILE)}: .*truncated`));
    expect(userError(() => readTrainerState(dir)).message).toMatch(new RegExp(`^${join(dir, MODEL_FILE)}: does not match the hash`));
  });

  it('refuses a file swapped in from another save', () => {
    const dir = freshDir();
    const other = freshDir();
    writeCheckpoint(dir, parts(1));
    writeCheckpoint(other, parts(2));
    writeFileSync(join(dir, OPTIMIZER_FILE), readFileSync(join(other, OPTIMIZER_FILE)));
    expect(userError(() => readTrainerState(dir)).message).toContain(`${join(dir, OPTIMIZER_FILE)}: does not match the hash in ${STATE_FILE}`);
  });

  it('refuses wrong shapes, missing and extra tensors', () => {
    const dir = freshDir();
    writeCheckpoint(dir, parts(1));
    const wrongShape: [string, number[]][] = [SHAPES[0], SHAPES[1], ['backbone.norm_f.weight', [4]]];
    expect(userError(() => readModelTensors(dir, wrongShape)).message).toMatch(/backbone\.norm_f\.weight has shape \[3\] but the config needs \[4\]/);
    const more: [string, number[]][] = [...SHAPES, ['lm_head.weight', [5, 3]]];
    expect(userError(() => readModelTensors(dir, more)).message).toMatch(/lm_head\.weight is missing/);
    expect(userError(() => readModelTensors(dir, SHAPES.slice(1))).message).toMatch(/unexpected tensor backbone\.embeddings\.weight/);
  });

  it('refuses missing files and a broken state or config', () => {
    const dir = freshDir();
    writeCheckpoint(dir, parts(1));
    writeFileSync(join(dir, CONFIG_FILE), '{"d_model": ');
    expect(userError(() => readConfigJson(dir)).message).toMatch(new RegExp(`^${join(dir, CONFIG_FILE)}: not valid JSON`));
    writeFileSync(join(dir, STATE_FILE), '{"step": 1, "fi');
    expect(userError(() => readTrainerState(dir)).message).toMatch(new RegExp(`^${join(dir, STATE_FILE)}: not valid JSON`));
    rmSync(join(dir, OPTIMIZER_FILE));
    expect(userError(() => readOptimizer(dir, SHAPES)).message).toMatch(/optimizer\.safetensors: missing/);
    expect(existsSync(join(dir, MODEL_FILE))).toBe(true);
  });
});
