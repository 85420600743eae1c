/**
 * The on-disk dataset format: a directory holding `manifest.json` and binary shards of fixed-length
 * token records. One record is one game: `recordLength` tokens, one byte each, 0-padded at the end.
 *
 * Shard file (little-endian):
 *   offset  size  field
 *        0     8  magic "GAMBASHD"
 *        8     4  format version (SHARD_VERSION)
 *       12     4  record length in tokens (Othello 60, chess 1024)
 *       16     4  vocabulary size (every token is < this)
 *       20     4  bytes per token (1)
 *       24     4  number of games in this shard
 *       28     4  reserved, 0
 *       32    32  SHA-256 of the records that follow
 *       64     -  games * recordLength * tokenBytes bytes of records
 *
 * The manifest repeats each shard's game count, byte size and checksum, so a truncated, swapped or
 * corrupted shard is caught either by its own header or by the manifest.
 */
import { UserError } from '../src/util/errors.js';

export const SHARD_MAGIC = 'GAMBASHD';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 64;
export const MANIFEST_FORMAT = 'gamba-dataset';
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export type Split = 'train' | 'val';
export type PadMode = 'token' | 'trailing';
export const PAD_MODES: readonly PadMode[] = ['token', 'trailing'];
export const SPLITS: readonly Split[] = ['train', 'val'];

export interface ShardEntry {
  file: string;
  split: Split;
  games: number;
  /** Size of the whole file, header included. */
  bytes: number;
  /** SHA-256 (hex) of the records, as in the shard header. */
  sha256: string;
}

export interface DatasetManifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  game: string;
  vocabSize: number;
  recordLength: number;
  tokenBytes: number;
  padToken: number;
  /**
   * Which tokens are padding: 'token' (the default when absent; Othello) means every padToken, as no
   * move uses that id; 'trailing' means only the run of padToken at the end of a record, for
   * vocabularies where the pad id also occurs inside a game (chess pads with ' ', its move separator).
   */
  padMode?: PadMode;
  /** How the games were made, e.g. 'uniform-random' (each move uniform over the legal moves). */
  source: string;
  seed: number;
  valFraction: number;
  /** Games per generation chunk: game stream i comes from chunk floor(i / chunkGames). */
  chunkGames: number;
  /** Most games one shard holds. */
  shardGames: number;
  counts: Record<Split, number>;
  shards: ShardEntry[];
}

export interface ShardHeader {
  version: number;
  recordLength: number;
  vocabSize: number;
  tokenBytes: number;
  games: number;
  sha256: string;
}

export function encodeShardHeader(header: Omit<ShardHeader, 'version'>): Buffer {
  const buf = Buffer.alloc(SHARD_HEADER_BYTES);
  buf.write(SHARD_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(SHARD_VERSION, 8);
  buf.writeUInt32LE(header.recordLength, 12);
  buf.writeUInt32LE(header.vocabSize, 16);
  buf.writeUInt32LE(header.tokenBytes, 20);
  buf.writeUInt32LE(header.games, 24);
  buf.write(header.sha256, 32, 'hex');
  return buf;
}

/** Parses a shard header; throws UserError naming `file` on a wrong magic, version or reserved field. */
export function decodeShardHeader(buf: Buffer, file: string): ShardHeader {
  if (buf.length < SHARD_HEADER_BYTES) {
    throw new UserError(`${file}: truncated shard: ${buf.length} bytes, shorter than the ${SHARD_HEADER_BYTES}-byte header`);
  }
  const magic = buf.toString('latin1', 0, 8);
  if (magic !== SHARD_MAGIC) {
    throw new UserError(`${file}: not a gamba shard: magic ${JSON.stringify(magic)}, expected ${JSON.stringify(SHARD_MAGIC)}`);
  }
  const version = buf.readUInt32LE(8);
  if (version !== SHARD_VERSION) {
    throw new UserError(`${file}: unsupported shard format version ${version} (this gamba reads version ${SHARD_VERSION})`);
  }
  if (buf.readUInt32LE(28) !== 0) throw new UserError(`${file}: corrupt shard header: reserved field is not 0`);
  return {
    version,
    recordLength: buf.readUInt32LE(12),
    vocabSize: buf.readUInt32LE(16),
    tokenBytes: buf.readUInt32LE(20),
    games: buf.readUInt32LE(24),
    sha256: buf.toString('hex', 32, 64),
  };
}

/** The file name of shard `index` of `split`: train-00000.bin, val-00003.bin. */
export function shardFileName(split: Split, index: number): string {
  return `${split}-${String(index).padStart(5, '0')}.bin`;
}

/** Checks a parsed manifest.json field by field; throws UserError naming `file` and the first bad field. */
export function validateManifest(value: unknown, file: string): DatasetManifest {
  const bad = (what: string): never => {
    throw new UserError(`${file}: invalid manifest: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) bad(`"format" is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  if (m.formatVersion !== MANIFEST_VERSION) {
    bad(`unsupported "formatVersion" ${JSON.stringify(m.formatVersion)} (this gamba reads version ${MANIFEST_VERSION})`);
  }
  if (typeof m.game !== 'string' || m.game === '') bad('"game" must be a non-empty string');
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = m[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`"${name}" must be an integer in ${min}..${max}`);
    return v as number;
  };
  int('vocabSize', 1, 256);
  int('recordLength', 1, 1 << 20);
  if (m.tokenBytes !== 1) bad(`"tokenBytes" is ${JSON.stringify(m.tokenBytes)}; only 1-byte tokens are supported`);
  int('padToken', 0, (m.vocabSize as number) - 1);
  if (m.padMode !== undefined && !PAD_MODES.includes(m.padMode as PadMode)) bad(`"padMode" must be one of ${PAD_MODES.map((x) => `"${x}"`).join(', ')}`);
  int('seed', 0);
  int('chunkGames', 1);
  int('shardGames', 1, 0xffffffff);
  if (typeof m.source !== 'string') bad('"source" must be a string');
  if (typeof m.valFraction !== 'number' || !(m.valFraction >= 0 && m.valFraction <= 1)) bad('"valFraction" must be a number in [0, 1]');
  const counts = m.counts as Record<string, unknown> | undefined;
  if (typeof counts !== 'object' || counts === null) bad('"counts" must be an object with "train" and "val"');
  for (const split of SPLITS) {
    const c = counts![split];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) bad(`"counts.${split}" must be a non-negative integer`);
  }
  if (!Array.isArray(m.shards)) bad('"shards" must be an array');
  const seen = new Set<string>();
  const totals: Record<Split, number> = { train: 0, val: 0 };
  (m.shards as unknown[]).forEach((s, i) => {
    const e = s as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) bad(`shards[${i}] is not an object`);
    if (typeof e.file !== 'string' || !/^[A-Za-z0-9._-]+$/.test(e.file) || e.file.startsWith('.')) {
      bad(`shards[${i}].file must be a plain file name inside the dataset directory`);
    }
    if (seen.has(e.file as string)) bad(`shards[${i}].file ${JSON.stringify(e.file)} is listed twice`);
    seen.add(e.file as string);
    if (e.split !== 'train' && e.split !== 'val') bad(`shards[${i}].split must be "train" or "val"`);
    if (typeof e.games !== 'number' || !Number.isInteger(e.games) || e.games < 0) bad(`shards[${i}].games must be a non-negative integer`);
    if (typeof e.bytes !== 'number' || !Number.isInteger(e.bytes) || e.bytes < SHARD_HEADER_BYTES) bad(`shards[${i}].bytes must be an integer >= ${SHARD_HEADER_BYTES}`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) bad(`shards[${i}].sha256 must be 64 lowercase hex digits`);
    const expectedBytes = SHARD_HEADER_BYTES + (e.games as number) * (m.recordLength as number) * (m.tokenBytes as number);
    if (e.bytes !== expectedBytes) bad(`shards[${i}] (${e.file}) says ${e.bytes} bytes but ${e.games} games take ${expectedBytes}`);
    totals[e.split as Split] += e.games as number;
  });
  for (const split of SPLITS) {
    if (totals[split] !== counts![split]) bad(`"counts.${split}" is ${counts![split]} but the ${split} shards hold ${totals[split]} games`);
  }
  return m as unknown as DatasetManifest;
}
