/**
 * `gamba export`: a checkpoint as a clean Hugging Face model directory, ready to upload:
 *
 *   model.safetensors        the weights in fp32, fp16 or bf16 (MambaForCausalLM's or GPT2LMHeadModel's
 *                            names and shapes)
 *   config.json              the Hugging Face config keys (and gamba's, so gamba reads it back)
 *   generation_config.json   the token ids generation starts, stops and pads with
 *   README.md                the model card (model-card.ts)
 *   SHA256SUMS               hashes of model.safetensors and config.json, checked on every gamba load
 *
 * The directory is built beside its destination and renamed into place, so a killed export leaves no
 * half-written model.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { modelParameterShapes } from '../model/models.js';
import { UserError } from '../util/errors.js';
import { CONFIG_FILE, hashesFileText, HASHES_FILE, MODEL_FILE } from './checkpoint.js';
import { checkpointConfigJson, configJsonText } from './config-json.js';
import { loadCheckpoint } from './load-checkpoint.js';
import { gatherModelCardFacts, modelCardText } from './model-card.js';
import { bf16Tensor, encodeSafetensors, f16Tensor, f32Tensor, type StoredTensor } from './safetensors.js';

export const EXPORT_DTYPES = ['fp32', 'fp16', 'bf16'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

const TORCH_DTYPE: Record<ExportDtype, string> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' };
/** The largest finite half: a weight beyond it would be stored as infinity. */
const FP16_MAX = 65504;
export const GENERATION_CONFIG_FILE = 'generation_config.json';
export const MODEL_CARD_FILE = 'README.md';

export interface ExportOptions {
  checkpoint: string;
  out: string;
  dtype: ExportDtype;
  force: boolean;
  note?: (message: string) => void;
}

export interface ExportResult {
  out: string;
  dtype: ExportDtype;
  parameters: number;
  files: { name: string; bytes: number }[];
}

export function exportHuggingFace(options: ExportOptions): ExportResult {
  const out = resolve(options.out);
  if (out === resolve(options.checkpoint)) throw new UserError(`--out ${options.out}: is the checkpoint itself; export into another directory`);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new UserError(`--out ${options.out}: exists and is not a directory`);
    if (readdirSync(out).length > 0 && !options.force) throw new UserError(`--out ${options.out}: already exists and is not empty (use --force to replace it)`);
  }
  const checkpoint = loadCheckpoint(options.checkpoint, options.note);
  const { config } = checkpoint;

  // Weights: only the model's own tensors, in the order and names transformers saves.
  const tensors = new Map<string, StoredTensor>();
  let parameters = 0;
  for (const [name, shape] of modelParameterShapes(config)) {
    const data = checkpoint.params.get(name)!;
    parameters += data.length;
    if (options.dtype === 'fp16') {
      const i = data.findIndex((x) => Math.abs(x) > FP16_MAX);
      if (i >= 0) throw new UserError(`${join(options.checkpoint, MODEL_FILE)}: ${name} holds ${data[i]}, beyond fp16's range (export as bf16 or fp32)`);
    }
    tensors.set(name, options.dtype === 'fp16' ? f16Tensor(shape, data) : options.dtype === 'bf16' ? bf16Tensor(shape, data) : f32Tensor(shape, data));
  }
  const configJson = { ...checkpointConfigJson(config, { game: checkpoint.game, preset: checkpoint.preset }), torch_dtype: TORCH_DTYPE[options.dtype] };
  const files = new Map<string, Uint8Array>();
  const text = (s: string) => new TextEncoder().encode(s);
  files.set(MODEL_FILE, encodeSafetensors(tensors, { format: 'pt' }));
  files.set(CONFIG_FILE, text(configJsonText(configJson)));
  files.set(GENERATION_CONFIG_FILE, text(JSON.stringify({ bos_token_id: config.pad_token_id, eos_token_id: config.pad_token_id, pad_token_id: config.pad_token_id }, null, 2) + '\n'));
  const facts = gatherModelCardFacts(options.checkpoint, {
    name: basename(out),
    config,
    game: checkpoint.game,
    preset: checkpoint.preset,
    parameters,
    dtype: options.dtype,
  });
  files.set(MODEL_CARD_FILE, text(modelCardText(facts)));
  files.set(HASHES_FILE, text(hashesFileText(new Map([[MODEL_FILE, files.get(MODEL_FILE)!], [CONFIG_FILE, files.get(CONFIG_FILE)!]]))));

  writeDirectoryAtomically(out, files);
  return { out: options.out, dtype: options.dtype, parameters, files: [...files].map(([name, bytes]) => ({ name, bytes: bytes.length })) };
}

/** Writes `files` into a fresh directory beside `out`, then swaps it in for whatever `out` was. */
function writeDirectoryAtomically(out: string, files: Map<string, Uint8Array>): void {
  mkdirSync(dirname(out), { recursive: true });
  const building = `${out}.tmp-${process.pid}`;
  const replaced = `${out}.old-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    mkdirSync(building);
    for (const [name, bytes] of files) writeFileSync(join(building, name), bytes);
    if (existsSync(out)) renameSync(out, replaced);
    renameSync(building, out);
    rmSync(replaced, { recursive: true, force: true });
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (existsSync(replaced) && !existsSync(out)) renameSync(replaced, out);
    throw error;
  }
}
