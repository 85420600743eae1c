/**
 * Loads the model of a checkpoint directory (gamba's, or a Hugging Face Mamba or GPT-2 export with
 * config.json + model.safetensors) for evaluation, play and probes: config checked by the model's own
 * validation, every tensor checked against the shapes that config implies.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, type ModelConfig } from '../model/config.js';
import { modelParameterShapes } from '../model/models.js';
import { UserError } from '../util/errors.js';
import { MANIFEST_FILE } from '../../datasets/format.js';
import { CONFIG_FILE, readConfigJson, readVerifiedModel, recoverInterruptedSave } from './checkpoint.js';
import { modelConfigFromJson } from './config-json.js';

export interface LoadedCheckpoint {
  dir: string;
  config: ModelConfig;
  /** The game and preset config.json names (null for a model made elsewhere). */
  game: string | null;
  preset: string | null;
  params: Map<string, Float32Array>;
}

/** Directories already reported as unverified: the line is said once per process, not per load. */
const reportedUnverified = new Set<string>();

/**
 * The checkpoint's config and weights. The model file is checked against its recorded hash (a
 * corrupted file is refused); a model with none recorded loads with one line said through `note`.
 */
export function loadCheckpoint(dir: string, note?: (message: string) => void): LoadedCheckpoint {
  if (!existsSync(dir)) throw new UserError(`${dir}: no such checkpoint directory`);
  const recovered = recoverInterruptedSave(dir);
  if (recovered) note?.(recovered);
  const path = join(dir, CONFIG_FILE);
  const { config: fields, game, preset } = modelConfigFromJson(readConfigJson(dir), path);
  const config = validateConfig(fields, path);
  const params = readVerifiedModel(dir, modelParameterShapes(config), (message) => {
    if (reportedUnverified.has(dir)) return;
    reportedUnverified.add(dir);
    note?.(message);
  });
  return { dir, config, game, preset, params };
}

/** Refuses a model and a dataset that do not go together: another game, or another vocabulary. */
export function checkModelFitsDataset(checkpoint: LoadedCheckpoint, dataDir: string, manifest: { game: string; vocabSize: number }): void {
  const configPath = join(checkpoint.dir, CONFIG_FILE);
  const manifestPath = join(dataDir, MANIFEST_FILE);
  if (checkpoint.game !== null && checkpoint.game !== manifest.game) {
    throw new UserError(`${configPath}: a ${checkpoint.game} model, but ${manifestPath} is a ${manifest.game} dataset`);
  }
  if (checkpoint.config.vocab_size !== manifest.vocabSize) {
    throw new UserError(`${configPath}: vocab_size ${checkpoint.config.vocab_size} but ${manifestPath} has vocabulary size ${manifest.vocabSize}`);
  }
}
