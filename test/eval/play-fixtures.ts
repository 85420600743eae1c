/** A small randomly initialised checkpoint written through the model and checkpoint API, for match tests. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRESETS, validateConfig, type Architecture } from '../../src/model/config.js';
import { initModelParameters, modelParameterShapes } from '../../src/model/models.js';
import { CONFIG_FILE, hashesFileText, HASHES_FILE, MODEL_FILE, writeCheckpoint, type NamedTensors } from '../../src/train/checkpoint.js';
import { checkpointConfigJson } from '../../src/train/config-json.js';
import { Rng } from '../../src/util/rng.js';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `gamba-${label}-`));
}

/**
 * Writes a d=16, 2-layer model for `game` with random initial weights (mamba.py's, or GPT-2's for a
 * transformer of 2 heads and the game's context) into `dir`.
 */
export function writeTinyCheckpoint(dir: string, game: 'chess' | 'othello', seed = 1, architecture: Architecture = 'mamba'): string {
  const vocab_size = game === 'chess' ? 32 : 61;
  const fields = architecture === 'mamba'
    ? { ...PRESETS.tiny, d_model: 16, n_layers: 2, dt_rank: 1, vocab_size }
    : { ...PRESETS['quickstart-gpt'], d_model: 16, n_layers: 2, n_heads: 2, n_positions: game === 'chess' ? 1023 : 59, vocab_size };
  const config = validateConfig(fields, 'test config');
  const params = initModelParameters(config, new Rng(seed));
  const model: NamedTensors = new Map();
  for (const [name, shape] of modelParameterShapes(config)) model.set(name, { shape, data: params.get(name)! });
  mkdirSync(dir, { recursive: true });
  writeCheckpoint(dir, { config: checkpointConfigJson(config, { game, preset: 'test-d16' }), model });
  // Hashes as an exported model records them, so loads are checked (and say nothing).
  const files = new Map([MODEL_FILE, CONFIG_FILE].map((name) => [name, readFileSync(join(dir, name))]));
  writeFileSync(join(dir, HASHES_FILE), hashesFileText(files));
  return dir;
}
