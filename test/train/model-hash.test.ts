/**
 * Every load of a gamba checkpoint checks model.safetensors against the hash recorded beside it
 * (trainer-state.json for training checkpoints, SHA256SUMS for exported and shipped models).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, HASHES_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE } from '../../src/train/checkpoint.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { startTraining } from '../../src/train/trainer.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const SAMPLES = 'datasets/samples/othello';
const SHIPPED = 'models/othello-base';
const root = mkdtempSync(join(tmpdir(), 'gamba-model-hash-'));
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

const trained = startTraining({
  outDir: join(root, 'ckpt'), game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
  clip: 1, seed: 5, valEvery: 10, valGames: 4, saveEvery: 10, steps: 2,
});

function copyFiles(from: string, to: string, names: string[]): string {
  mkdirSync(to, { recursive: true });
  for (const name of names) copyFileSync(join(from, name), join(to, name));
  return to;
}

/** Overwrites four bytes of a file in place, as a bad disk or a careless edit would. */
function overwrite(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from([0x12, 0x34, 0x56, 0x78]), 0, 4, offset);
  } finally {
    closeSync(fd);
  }
}

describe('model hashes', () => {
  it('gamba eval refuses a training checkpoint whose weights changed after the save', async () => {
    const { outDir } = await trained;
    const dir = copyFiles(outDir, join(root, 'altered'), [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, STATE_FILE]);
    const intact = gamba('eval', '--checkpoint', dir, '--data', SAMPLES, '--games', '2', '--backend', 'cpu', '--json');
    expect(intact.status, intact.stderr).toBe(0);
    overwrite(join(dir, MODEL_FILE), 40_000);
    const run = gamba('eval', '--checkpoint', dir, '--data', SAMPLES, '--games', '2', '--backend', 'cpu', '--json');
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`${join(dir, MODEL_FILE)}: does not match its hash in ${STATE_FILE}`);
  });

  it('checks a shipped model against its SHA256SUMS, which sha256sum can check too', () => {
    const notes: string[] = [];
    loadCheckpoint(SHIPPED, (line) => notes.push(line));
    expect(notes).toEqual([]);
    const listed = readFileSync(join(SHIPPED, HASHES_FILE), 'utf8').trim().split('\n').map((line) => line.split('  '));
    expect(listed.map(([, name]) => name).sort()).toEqual([CONFIG_FILE, MODEL_FILE]);
    for (const [hash, name] of listed) expect(createHash('sha256').update(readFileSync(join(SHIPPED, name))).digest('hex')).toBe(hash);

    const dir = copyFiles(SHIPPED, join(root, 'shipped-altered'), [MODEL_FILE, CONFIG_FILE, HASHES_FILE]);
    loadCheckpoint(dir);
    overwrite(join(dir, MODEL_FILE), 40_000);
    expect(() => loadCheckpoint(dir)).toThrow(`${join(dir, MODEL_FILE)}: does not match its hash in ${HASHES_FILE}`);
    copyFileSync(join(SHIPPED, MODEL_FILE), join(dir, MODEL_FILE));
    writeFileSync(join(dir, CONFIG_FILE), readFileSync(join(SHIPPED, CONFIG_FILE), 'utf8').replace('"use_cache": true', '"use_cache": false'));
    expect(() => loadCheckpoint(dir)).toThrow(`${join(dir, CONFIG_FILE)}: does not match its hash in ${HASHES_FILE}`);
    writeFileSync(join(dir, HASHES_FILE), 'not a hash line\n');
    expect(() => loadCheckpoint(dir)).toThrow(`${join(dir, HASHES_FILE)}: line 1 is not '<sha256>  <file name>'`);
  });

  it('refuses an exported model copied without its SHA256SUMS, and says that may be why', () => {
    // An export keeps the run's trainer-state.json for the record; its hash is of the f32 training file.
    const exported = 'models/chess-mamba';
    const dir = copyFiles(exported, join(root, 'exported-no-sums'), [MODEL_FILE, CONFIG_FILE, STATE_FILE]);
    expect(() => loadCheckpoint(dir)).toThrow(`${join(dir, MODEL_FILE)}: does not match its hash in ${STATE_FILE} (corrupted, replaced, a save under way: try again once training has saved, or an exported model copied without its ${HASHES_FILE})`);
    copyFileSync(join(exported, HASHES_FILE), join(dir, HASHES_FILE));
    expect(loadCheckpoint(dir).config.n_layers).toBe(12);
  });

  it('loads a model that records no hash, saying so once', async () => {
    const { outDir } = await trained;
    const dir = copyFiles(outDir, join(root, 'no-hashes'), [MODEL_FILE, CONFIG_FILE]);
    const notes: string[] = [];
    loadCheckpoint(dir, (line) => notes.push(line));
    loadCheckpoint(dir, (line) => notes.push(line));
    expect(notes).toEqual([`${join(dir, MODEL_FILE)}: no recorded hash (a model made elsewhere), so its weights are not verified`]);
  });
});
