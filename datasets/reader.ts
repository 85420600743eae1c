/**
 * Reads a dataset directory written by datasets/writer.ts. Opening checks the manifest and every shard
 * (header, size, checksum, token range) while streaming through it in blocks, so a bad file is refused
 * up front with a one-line error naming it; afterwards games are read on demand with positioned reads,
 * never by loading whole shards.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../src/util/errors.js';
import { parseJsonFile } from '../src/util/json.js';
import {
  MANIFEST_FILE,
  SHARD_HEADER_BYTES,
  decodeShardHeader,
  validateManifest,
  type DatasetManifest,
  type ShardEntry,
  type Split,
} from './format.js';

/** Bytes hashed per read while verifying a shard. */
const VERIFY_BLOCK_BYTES = 4 << 20;
/** Games per read while iterating a split. */
const ITERATE_BLOCK_GAMES = 16384;

export interface OpenOptions {
  /** Hash and range-check every record on open (default true). Headers and sizes are always checked. */
  verifyRecords?: boolean;
}

interface ShardSlot {
  entry: ShardEntry;
  path: string;
  /** Index of the shard's first game within its split. */
  start: number;
  fd: number | null;
}

/** Reads and validates manifest.json of `dir`. */
export function readManifest(dir: string): DatasetManifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new UserError(`${dir}: no such dataset directory`);
  if (!existsSync(file)) throw new UserError(`${file}: missing manifest (is ${dir} a dataset directory made by \`gamba generate\`?)`);
  return validateManifest(parseJsonFile(file, readFileSync(file, 'utf8'), 'invalid manifest'), file);
}

/**
 * Checks one shard file against its manifest entry: existence, size, header fields, and (unless
 * `verifyRecords` is false) the records' SHA-256 and token range. Throws UserError naming the file.
 */
export function checkShard(dir: string, manifest: DatasetManifest, entry: ShardEntry, verifyRecords = true): void {
  const path = join(dir, entry.file);
  if (!existsSync(path)) throw new UserError(`${path}: shard listed in the manifest is missing`);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const headerBytes = Buffer.alloc(SHARD_HEADER_BYTES);
    const got = readSync(fd, headerBytes, 0, SHARD_HEADER_BYTES, 0);
    const header = decodeShardHeader(headerBytes.subarray(0, got), path);
    const mismatch = (field: string, inFile: number | string, inManifest: number | string): never => {
      throw new UserError(`${path}: shard header says ${field} ${inFile} but the manifest says ${inManifest}`);
    };
    if (header.recordLength !== manifest.recordLength) mismatch('record length', header.recordLength, manifest.recordLength);
    if (header.vocabSize !== manifest.vocabSize) mismatch('vocabulary size', header.vocabSize, manifest.vocabSize);
    if (header.tokenBytes !== manifest.tokenBytes) mismatch('token bytes', header.tokenBytes, manifest.tokenBytes);
    if (header.games !== entry.games) mismatch('game count', header.games, entry.games);
    if (header.sha256 !== entry.sha256) mismatch('checksum', header.sha256, entry.sha256);
    if (size !== entry.bytes) {
      const kind = size < entry.bytes ? 'truncated shard' : 'shard has trailing bytes';
      throw new UserError(`${path}: ${kind}: ${size} bytes, expected ${entry.bytes} (${entry.games} games of ${manifest.recordLength} tokens)`);
    }
    if (!verifyRecords) return;

    const hash = createHash('sha256');
    const block = Buffer.alloc(Math.min(VERIFY_BLOCK_BYTES, Math.max(1, size - SHARD_HEADER_BYTES)));
    const vocab = manifest.vocabSize;
    let badAt = -1;
    let badToken = 0;
    for (let pos = SHARD_HEADER_BYTES; pos < size; ) {
      const n = readSync(fd, block, 0, Math.min(block.length, size - pos), pos);
      if (n <= 0) throw new UserError(`${path}: truncated shard: could not read past byte ${pos}`);
      const view = block.subarray(0, n);
      hash.update(view);
      if (badAt < 0) {
        for (let i = 0; i < n; i++) {
          if (view[i] >= vocab) {
            badAt = pos - SHARD_HEADER_BYTES + i;
            badToken = view[i];
            break;
          }
        }
      }
      pos += n;
    }
    // A checksum mismatch is the better diagnosis when both fail: the bytes changed after writing.
    const actual = hash.digest('hex');
    if (actual !== entry.sha256) throw new UserError(`${path}: checksum mismatch: records hash to ${actual.slice(0, 16)}..., expected ${entry.sha256.slice(0, 16)}... (corrupted file)`);
    if (badAt >= 0) {
      const game = Math.floor(badAt / manifest.recordLength);
      const move = badAt % manifest.recordLength;
      throw new UserError(`${path}: token ${badToken} out of range (vocabulary size ${vocab}) in game ${game}, position ${move}`);
    }
  } finally {
    closeSync(fd);
  }
}

export class Dataset {
  readonly manifest: DatasetManifest;
  private readonly slots: Record<Split, ShardSlot[]> = { train: [], val: [] };

  constructor(
    readonly dir: string,
    options: OpenOptions = {},
  ) {
    this.manifest = readManifest(dir);
    const verify = options.verifyRecords ?? true;
    const next: Record<Split, number> = { train: 0, val: 0 };
    for (const entry of this.manifest.shards) {
      checkShard(dir, this.manifest, entry, verify);
      this.slots[entry.split].push({ entry, path: join(dir, entry.file), start: next[entry.split], fd: null });
      next[entry.split] += entry.games;
    }
  }

  get recordLength(): number {
    return this.manifest.recordLength;
  }

  count(split: Split): number {
    return this.manifest.counts[split];
  }

  /** Games `start .. start+count-1` of `split`, concatenated: (count * recordLength) tokens. */
  readGames(split: Split, start: number, count: number): Uint8Array {
    const out = new Uint8Array(count * this.recordLength);
    this.readGamesInto(split, start, count, out, 0);
    return out;
  }

  /** As readGames, into `out` at token offset `offset` (no allocation). */
  readGamesInto(split: Split, start: number, count: number, out: Uint8Array, offset: number): void {
    const total = this.count(split);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > total) {
      throw new RangeError(`readGames(${split}, ${start}, ${count}): out of range, the ${split} split has ${total} games`);
    }
    const L = this.recordLength;
    const slots = this.slots[split];
    let shard = this.findShard(split, start);
    let game = start;
    let remaining = count;
    while (remaining > 0) {
      const slot = slots[shard];
      const inShard = game - slot.start;
      const take = Math.min(remaining, slot.entry.games - inShard);
      const length = take * L;
      const got = readSync(this.fd(slot), out, offset, length, SHARD_HEADER_BYTES + inShard * L);
      if (got !== length) throw new UserError(`${slot.path}: truncated shard: short read at game ${inShard}`);
      offset += length;
      game += take;
      remaining -= take;
      shard++;
    }
  }

  /** Every game of `split` in order, one record (a fresh view of recordLength tokens) at a time. */
  *iterateGames(split: Split): Generator<Uint8Array> {
    const total = this.count(split);
    const L = this.recordLength;
    for (let start = 0; start < total; start += ITERATE_BLOCK_GAMES) {
      const n = Math.min(ITERATE_BLOCK_GAMES, total - start);
      const block = this.readGames(split, start, n);
      for (let i = 0; i < n; i++) yield block.subarray(i * L, (i + 1) * L);
    }
  }

  /** Closes the shard files opened for reading. */
  close(): void {
    for (const split of ['train', 'val'] as const) {
      for (const slot of this.slots[split]) {
        if (slot.fd !== null) closeSync(slot.fd);
        slot.fd = null;
      }
    }
  }

  private fd(slot: ShardSlot): number {
    if (slot.fd === null) slot.fd = openSync(slot.path, 'r');
    return slot.fd;
  }

  /** Index of the shard of `split` that holds game `game` (binary search over shard starts). */
  private findShard(split: Split, game: number): number {
    const slots = this.slots[split];
    let lo = 0;
    let hi = slots.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (slots[mid].start <= game) lo = mid;
      else hi = mid - 1;
    }
    // Skip empty shards so the read starts in one that holds `game`.
    while (lo < slots.length - 1 && game >= slots[lo].start + slots[lo].entry.games) lo++;
    return lo;
  }
}

/** Opens and validates the dataset in `dir` (see Dataset). */
export function openDataset(dir: string, options: OpenOptions = {}): Dataset {
  return new Dataset(dir, options);
}
