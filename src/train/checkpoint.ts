/**
 * The checkpoint directory and how it is written and read back.
 *
 *   model.safetensors      weights, Hugging Face names and shapes, F32 (loads in `transformers`)
 *   config.json            gamba's model config + the Hugging Face MambaConfig keys
 *   optimizer.safetensors  AdamW moments: `m.<param>` and `v.<param>`; `__metadata__.step`
 *   aux-board-head.safetensors  with --aux-board-loss only: the auxiliary head's weights and AdamW
 *                          moments (src/train/aux-board-loss.ts), never part of the model
 *   trainer-state.json     step, horizon, data position, RNG state, loss history, the run's flags, and
 *                          the SHA-256 of the files above
 *   metrics.jsonl          one line per step (appended by the trainer; not part of the snapshot)
 *   SHA256SUMS             in exported and shipped models instead of trainer-state.json: the hashes
 *                          of model.safetensors and config.json, as `sha256sum` writes them
 *
 * A save is a small transaction. Every file is first written to `<name>.tmp-<pid>` and fsynced; the new
 * trainer-state.json.tmp-<pid> goes last and is the commit record (it names the hashes of the files it
 * belongs to). Then each temp file is renamed over its final name, trainer-state.json last.
 * - Killed before the commit record is complete: the previous checkpoint is untouched; the stray temp
 *   files are ignored and swept on the next load.
 * - Killed during the renames: the complete commit record is still there, so the next load finishes the
 *   renames (rolls forward) after checking every hash.
 * Anything else that does not match its hash is refused with a one-line message naming the file.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import { configJsonText } from './config-json.js';
import { validateTrainerState, type TrainerState } from './run-spec.js';
import { decodeSafetensors, encodeSafetensors, toFloat32, type StoredTensor } from './safetensors.js';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'trainer-state.json';
export const AUX_HEAD_FILE = 'aux-board-head.safetensors';
export const METRICS_FILE = 'metrics.jsonl';
export const HASHES_FILE = 'SHA256SUMS';
/** With --save-best: the subdirectory holding the checkpoint of the lowest validation loss so far. */
export const BEST_DIR = 'best';
/** --snapshot-every: the run's model as it stood every N steps, one directory per step (snapshotDir). */
export const SNAPSHOTS_DIR = 'snapshots';

/** Where --snapshot-every keeps the model of `step`: OUT/snapshots/step-0001000 (sorted by name = by step). */
export function snapshotDir(outDir: string, step: number): string {
  return join(outDir, SNAPSHOTS_DIR, `step-${String(step).padStart(7, '0')}`);
}

/** Tensors by name with their shapes (the form parameters take on the way to and from disk). */
export type NamedTensors = Map<string, { shape: number[]; data: Float32Array }>;

export interface OptimizerSnapshot {
  /** Optimizer steps taken (AdamW's t, used by its bias correction). */
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export interface CheckpointParts {
  config: Record<string, unknown>;
  model: NamedTensors;
  /** Optimizer and trainer state are present in training checkpoints, absent in exported models. */
  optimizer?: OptimizerSnapshot;
  /** --aux-board-loss: the head's tensors and their AdamW state, one file beside the model. */
  auxHead?: { tensors: NamedTensors; optimizer: OptimizerSnapshot };
  state?: Record<string, unknown>;
}

const TEMP_PATTERN = /^(.+)\.tmp-(\d+)$/;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Whether `dir` holds a checkpoint (any of its files, complete or not). */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, MODEL_FILE)) || existsSync(join(dir, STATE_FILE)) || existsSync(join(dir, CONFIG_FILE));
}

function writeDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the renames are still atomic there.
  }
}

function toStored(tensors: NamedTensors): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) out.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  return out;
}

/** The bytes of each file of a checkpoint, before they are written. */
export function encodeCheckpoint(parts: CheckpointParts): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  files.set(MODEL_FILE, encodeSafetensors(toStored(parts.model), { format: 'pt' }));
  files.set(CONFIG_FILE, new TextEncoder().encode(configJsonText(parts.config)));
  if (parts.optimizer) {
    const tensors = new Map<string, StoredTensor>();
    for (const [name, t] of parts.model) {
      const m = parts.optimizer.m.get(name);
      const v = parts.optimizer.v.get(name);
      if (!m || !v) throw new Error(`optimizer state lacks moments for ${name}`);
      tensors.set(`m.${name}`, { dtype: 'F32', shape: t.shape, data: m });
      tensors.set(`v.${name}`, { dtype: 'F32', shape: t.shape, data: v });
    }
    files.set(OPTIMIZER_FILE, encodeSafetensors(tensors, { format: 'pt', step: String(parts.optimizer.step) }));
  }
  if (parts.auxHead) {
    const { tensors, optimizer } = parts.auxHead;
    const stored = toStored(tensors);
    for (const [name, t] of tensors) {
      stored.set(`m.${name}`, { dtype: 'F32', shape: t.shape, data: optimizer.m.get(name)! });
      stored.set(`v.${name}`, { dtype: 'F32', shape: t.shape, data: optimizer.v.get(name)! });
    }
    files.set(AUX_HEAD_FILE, encodeSafetensors(stored, { format: 'pt', step: String(optimizer.step) }));
  }
  if (parts.state) {
    const hashes: Record<string, string> = {};
    for (const [name, bytes] of files) hashes[name] = sha256(bytes);
    files.set(STATE_FILE, new TextEncoder().encode(JSON.stringify({ ...parts.state, files: hashes }, null, 1) + '\n'));
  }
  return files;
}

/**
 * Writes a checkpoint into `dir` (created if missing) as one transaction (see the file comment).
 * `hooks.afterRenames = k` is for tests: the save stops (throws) after k renames, as a kill there would.
 */
export function writeCheckpoint(dir: string, parts: CheckpointParts, hooks: { afterRenames?: number } = {}): void {
  const files = encodeCheckpoint(parts);
  mkdirSync(dir, { recursive: true });
  const suffix = `.tmp-${process.pid}`;
  // The state file (the commit record) is written last and renamed last.
  const order = [...files.keys()].filter((name) => name !== STATE_FILE);
  if (files.has(STATE_FILE)) order.push(STATE_FILE);
  for (const name of order) writeDurably(join(dir, name + suffix), files.get(name)!);
  syncDirectory(dir);
  let renamed = 0;
  for (const name of order) {
    if (hooks.afterRenames !== undefined && renamed === hooks.afterRenames) throw new Error(`simulated kill after ${renamed} renames`);
    renameSync(join(dir, name + suffix), join(dir, name));
    renamed++;
  }
  syncDirectory(dir);
}

function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Finishes or discards a save that a killed process left behind (temp files of processes that are no
 * longer running). Returns a line saying what it did, or null when there was nothing to do.
 */
export function recoverInterruptedSave(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const byPid = new Map<number, string[]>();
  for (const entry of readdirSync(dir)) {
    const match = TEMP_PATTERN.exec(entry);
    if (!match) continue;
    const pid = Number(match[2]);
    if (!byPid.has(pid)) byPid.set(pid, []);
    byPid.get(pid)!.push(match[1]);
  }
  const messages: string[] = [];
  for (const [pid, names] of byPid) {
    if (processIsAlive(pid)) continue;
    const suffix = `.tmp-${pid}`;
    const record = names.includes(STATE_FILE) ? parseCommitRecord(join(dir, STATE_FILE + suffix)) : null;
    if (record && commitIsComplete(dir, record, suffix)) {
      for (const name of Object.keys(record)) {
        if (existsSync(join(dir, name + suffix))) renameSync(join(dir, name + suffix), join(dir, name));
      }
      renameSync(join(dir, STATE_FILE + suffix), join(dir, STATE_FILE));
      syncDirectory(dir);
      messages.push(`finished an interrupted checkpoint save in ${dir}`);
    } else {
      for (const name of names) rmSync(join(dir, name + suffix), { force: true });
      messages.push(`discarded an incomplete checkpoint save in ${dir} (${names.map((n) => n + suffix).join(', ')})`);
    }
  }
  return messages.length > 0 ? messages.join('; ') : null;
}

/** The file hashes of a commit record, or null when the record itself is incomplete. */
function parseCommitRecord(path: string): Record<string, string> | null {
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as { files?: Record<string, string> };
    return state.files && typeof state.files === 'object' ? state.files : null;
  } catch {
    return null;
  }
}

/** Every file the record names exists, as temp or final, with the recorded hash. */
function commitIsComplete(dir: string, hashes: Record<string, string>, suffix: string): boolean {
  for (const [name, hash] of Object.entries(hashes)) {
    const temp = join(dir, name + suffix);
    const path = existsSync(temp) ? temp : join(dir, name);
    if (!existsSync(path) || sha256(readFileSync(path)) !== hash) return false;
  }
  return true;
}

function readRequired(dir: string, name: string): Buffer {
  const path = join(dir, name);
  if (!existsSync(path)) throw new UserError(`${path}: missing (${dir} is not a complete checkpoint)`);
  return readFileSync(path);
}

/**
 * The trainer state a checkpoint keeps, read for what it records (its run, steps and time), not to
 * resume it: an exported or snapshot checkpoint keeps it beside weights its file hashes need not match.
 * Null when the directory has none.
 */
export function readRecordedTrainerState(dir: string): TrainerState | null {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return null;
  const value = parseJsonFile(path, readFileSync(path, 'utf8'));
  const state = validateTrainerState((value ?? {}) as Record<string, unknown>, path);
  if (!Number.isFinite(state.run.batch) || !Number.isFinite(state.trainSeconds)) throw new UserError(`${path}: run.batch or trainSeconds is missing or not a number`);
  return state;
}

export function readConfigJson(dir: string): Record<string, unknown> {
  const path = join(dir, CONFIG_FILE);
  const config = parseJsonFile(path, readRequired(dir, CONFIG_FILE).toString('utf8'));
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UserError(`${path}: not a JSON object`);
  return config as Record<string, unknown>;
}

/**
 * Reads tensors from a safetensors file and checks them against `expected` ([name, shape] pairs):
 * every expected tensor present with its shape, nothing else. F16 and BF16 are widened to float32.
 */
export function readTensors(path: string, bytes: Uint8Array, expected: [string, number[]][]): { tensors: Map<string, Float32Array>; metadata: Record<string, string> } {
  const file = decodeSafetensors(bytes, path);
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of expected) {
    const tensor = file.tensors.get(name);
    if (!tensor) {
      const held = architectureOfTensor(file.tensors.keys().next().value ?? '');
      const wanted = architectureOfTensor(name);
      if (held && wanted && held !== wanted) throw new UserError(`${path}: holds a ${held} model, but its config describes a ${wanted}`);
      throw new UserError(`${path}: tensor ${name} is missing (the checkpoint does not match its config)`);
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new UserError(`${path}: tensor ${name} has shape [${tensor.shape}] but the config needs [${shape}]`);
    }
    tensors.set(name, toFloat32(tensor));
  }
  const extra = [...file.tensors.keys()].filter((name) => !tensors.has(name));
  if (extra.length > 0) throw new UserError(`${path}: unexpected tensor ${extra[0]} (the checkpoint does not match its config)`);
  return { tensors, metadata: file.metadata };
}

/** The architecture a tensor of Hugging Face's naming belongs to, by its prefix (null when neither). */
function architectureOfTensor(name: string): string | null {
  if (name.startsWith('backbone.')) return 'Mamba';
  if (name.startsWith('transformer.')) return 'transformer (GPT-2)';
  return null;
}

export function readModelTensors(dir: string, expected: [string, number[]][]): Map<string, Float32Array> {
  return readTensors(join(dir, MODEL_FILE), readRequired(dir, MODEL_FILE), expected).tensors;
}

/** SHA256SUMS text for files of `dir`, one `<sha256>  <name>` line each (`sha256sum -c` checks it). */
export function hashesFileText(files: Map<string, Uint8Array>): string {
  return [...files].map(([name, bytes]) => `${sha256(bytes)}  ${name}\n`).join('');
}

/** The hashes a SHA256SUMS file records, by file name; null when the directory has none. */
function readHashesFile(dir: string): Map<string, string> | null {
  const path = join(dir, HASHES_FILE);
  if (!existsSync(path)) return null;
  const hashes = new Map<string, string>();
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '');
  for (const [i, line] of lines.entries()) {
    const match = /^([0-9a-f]{64}) [ *]([^/\\]+)$/.exec(line);
    if (!match) throw new UserError(`${path}: line ${i + 1} is not '<sha256>  <file name>'`);
    hashes.set(match[2], match[1]);
  }
  return hashes;
}

/**
 * Checks a checkpoint's model file (bytes as read) against the hash recorded beside it: in
 * trainer-state.json for a training checkpoint, in SHA256SUMS for an exported or shipped model (which
 * has every file it lists checked). Returns the file the hash came from, or null when none records one
 * (a model made elsewhere, such as by transformers' save_pretrained).
 */
export function verifyModelHash(dir: string, modelBytes: Uint8Array): string | null {
  const modelPath = join(dir, MODEL_FILE);
  const listed = readHashesFile(dir);
  if (listed) {
    if (!listed.has(MODEL_FILE)) throw new UserError(`${join(dir, HASHES_FILE)}: no hash for ${MODEL_FILE}`);
    for (const [name, hash] of listed) {
      const bytes = name === MODEL_FILE ? modelBytes : readRequired(dir, name);
      if (sha256(bytes) !== hash) throw new UserError(`${join(dir, name)}: does not match its hash in ${HASHES_FILE} (corrupted or replaced)`);
    }
    return HASHES_FILE;
  }
  const statePath = join(dir, STATE_FILE);
  if (!existsSync(statePath)) return null;
  const recorded = parseCommitRecord(statePath)?.[MODEL_FILE];
  if (typeof recorded !== 'string') throw new UserError(`${statePath}: no hash for ${MODEL_FILE} (truncated, or not a gamba trainer state)`);
  if (sha256(modelBytes) !== recorded) {
    throw new UserError(`${modelPath}: does not match its hash in ${STATE_FILE} (corrupted, replaced, a save under way: try again once training has saved, or an exported model copied without its ${HASHES_FILE})`);
  }
  return STATE_FILE;
}

/** The model file's bytes, after verifyModelHash; `unverified` is told when nothing records a hash. */
export function readVerifiedModel(dir: string, expected: [string, number[]][], unverified: (message: string) => void): Map<string, Float32Array> {
  const bytes = readRequired(dir, MODEL_FILE);
  if (verifyModelHash(dir, bytes) === null) unverified(`${join(dir, MODEL_FILE)}: no recorded hash (a model made elsewhere), so its weights are not verified`);
  return readTensors(join(dir, MODEL_FILE), bytes, expected).tensors;
}

/**
 * The trainer state of a run to resume, after checking that the model, config and optimizer files are
 * the ones it was saved with. A --snapshot-every snapshot's state records no optimizer: refused as such.
 */
export function readTrainerState(dir: string): Record<string, unknown> {
  const path = join(dir, STATE_FILE);
  const state = parseJsonFile(path, readRequired(dir, STATE_FILE).toString('utf8')) as Record<string, unknown>;
  const files = state.files as Record<string, string> | undefined;
  if (!files || typeof files !== 'object') throw new UserError(`${path}: no file hashes (not a gamba trainer state)`);
  if (typeof files[MODEL_FILE] === 'string' && files[OPTIMIZER_FILE] === undefined) {
    throw new UserError(`${dir}: no ${OPTIMIZER_FILE} recorded, so not a run to resume (a --snapshot-every snapshot: eval, probe, play and --init read it)`);
  }
  for (const name of [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE]) if (typeof files[name] !== 'string') throw new UserError(`${path}: no hash for ${name}`);
  for (const name of Object.keys(files)) {
    if (sha256(readRequired(dir, name)) !== files[name]) {
      throw new UserError(`${join(dir, name)}: does not match the hash in ${STATE_FILE} (truncated, replaced or from another save); the checkpoint cannot be resumed`);
    }
  }
  return state;
}

export function readOptimizer(dir: string, expected: [string, number[]][]): OptimizerSnapshot {
  return readMoments(dir, OPTIMIZER_FILE, expected, []).optimizer;
}

/** --aux-board-loss: the head's tensors (`expected`) and their AdamW state from AUX_HEAD_FILE. */
export function readAuxHead(dir: string, expected: [string, number[]][]): { tensors: Map<string, Float32Array>; optimizer: OptimizerSnapshot } {
  return readMoments(dir, AUX_HEAD_FILE, expected, expected);
}

/** A file of AdamW moments m.<name> and v.<name> of `expected` and a step, beside the tensors `plain`. */
function readMoments(dir: string, file: string, expected: [string, number[]][], plain: [string, number[]][]): { tensors: Map<string, Float32Array>; optimizer: OptimizerSnapshot } {
  const path = join(dir, file);
  const names: [string, number[]][] = [...plain];
  for (const [name, shape] of expected) names.push([`m.${name}`, shape], [`v.${name}`, shape]);
  const { tensors, metadata } = readTensors(path, readRequired(dir, file), names);
  const step = Number(metadata.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new UserError(`${path}: __metadata__.step is missing or not a step count`);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name] of expected) {
    m.set(name, tensors.get(`m.${name}`)!);
    v.set(name, tensors.get(`v.${name}`)!);
  }
  const own = new Map(plain.map(([name]) => [name, tensors.get(name)!]));
  return { tensors: own, optimizer: { step, m, v } };
}
