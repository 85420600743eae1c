/**
 * Writes a dataset directory: games are appended per split in order, cut into shards of at most
 * `shardGames` games, each hashed as it is written; `finish()` seals the shard headers and writes
 * manifest.json. The whole directory is built under a temporary name and renamed into place when
 * complete (`buildDatasetDirectory`), so a killed run never leaves a dataset that looks finished.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, renameSync, rmSync, mkdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  SHARD_HEADER_BYTES,
  encodeShardHeader,
  shardFileName,
  type DatasetManifest,
  type ShardEntry,
  type Split,
} from './format.js';

/** Everything in the manifest except what the writer works out itself (counts and shards). */
export type DatasetDescription = Omit<DatasetManifest, 'format' | 'formatVersion' | 'tokenBytes' | 'counts' | 'shards'>;

interface OpenShard {
  entry: ShardEntry;
  fd: number;
  hash: Hash;
}

export class DatasetWriter {
  private readonly open: Partial<Record<Split, OpenShard>> = {};
  private readonly shardCount: Record<Split, number> = { train: 0, val: 0 };
  private readonly shards: ShardEntry[] = [];
  private readonly counts: Record<Split, number> = { train: 0, val: 0 };
  private finished = false;

  constructor(
    private readonly dir: string,
    private readonly description: DatasetDescription,
  ) {}

  /** Appends `records` (n * recordLength tokens, n whole games) to `split`, opening new shards as they fill. */
  append(split: Split, records: Uint8Array): void {
    if (this.finished) throw new Error('DatasetWriter.append after finish');
    const { recordLength, vocabSize, shardGames } = this.description;
    if (records.length % recordLength !== 0) throw new Error(`append: ${records.length} tokens is not a whole number of ${recordLength}-token records`);
    for (let i = 0; i < records.length; i++) {
      if (records[i] >= vocabSize) throw new Error(`append: token ${records[i]} at ${i} is outside the vocabulary (size ${vocabSize})`);
    }
    let games = records.length / recordLength;
    let offset = 0;
    while (games > 0) {
      const shard = this.currentShard(split);
      const take = Math.min(games, shardGames - shard.entry.games);
      const bytes = records.subarray(offset, offset + take * recordLength);
      writeAll(shard.fd, bytes);
      shard.hash.update(bytes);
      shard.entry.games += take;
      shard.entry.bytes += bytes.length;
      this.counts[split] += take;
      offset += bytes.length;
      games -= take;
      if (shard.entry.games === shardGames) this.seal(split);
    }
  }

  /** Seals the open shards and writes manifest.json; returns the manifest. */
  finish(): DatasetManifest {
    for (const split of ['train', 'val'] as const) this.seal(split);
    this.finished = true;
    const manifest: DatasetManifest = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      ...this.description,
      tokenBytes: 1,
      counts: { ...this.counts },
      // Train shards first, then val, each in order: the order games are read back in.
      shards: [...this.shards].sort((a, b) => (a.split === b.split ? a.file.localeCompare(b.file) : a.split === 'train' ? -1 : 1)),
    };
    writeFileSync(join(this.dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  }

  private currentShard(split: Split): OpenShard {
    const current = this.open[split];
    if (current) return current;
    const file = shardFileName(split, this.shardCount[split]++);
    const fd = openSync(join(this.dir, file), 'w');
    // The header is written last (it holds the count and checksum); reserve its bytes now.
    writeAll(fd, new Uint8Array(SHARD_HEADER_BYTES));
    const shard = { entry: { file, split, games: 0, bytes: SHARD_HEADER_BYTES, sha256: '' }, fd, hash: createHash('sha256') };
    this.open[split] = shard;
    return shard;
  }

  private seal(split: Split): void {
    const shard = this.open[split];
    if (!shard) return;
    shard.entry.sha256 = shard.hash.digest('hex');
    const { recordLength, vocabSize } = this.description;
    const header = encodeShardHeader({ recordLength, vocabSize, tokenBytes: 1, games: shard.entry.games, sha256: shard.entry.sha256 });
    writeSync(shard.fd, header, 0, header.length, 0);
    closeSync(shard.fd);
    this.shards.push(shard.entry);
    delete this.open[split];
  }
}

/** Records gathered per split before each append to the writer. */
const APPEND_GAMES = 256;

/**
 * Imported games, one record at a time, each to train or val by a draw from `new Rng(seed)` in the
 * order they come (the imports' split: the same files and seed give the same dataset), appended to
 * the writer in blocks.
 */
export class SplitAppender {
  private readonly rng: Rng;
  private readonly pending: Record<Split, { records: Uint8Array; games: number }>;

  constructor(
    private readonly writer: DatasetWriter,
    private readonly recordLength: number,
    private readonly padToken: number,
    seed: number,
    private readonly valFraction: number,
  ) {
    this.rng = new Rng(seed);
    const block = () => ({ records: new Uint8Array(APPEND_GAMES * recordLength).fill(padToken), games: 0 });
    this.pending = { train: block(), val: block() };
  }

  /** Draws the next game's split and has `write` fill its record (padding already in place); returns what `write` returned. */
  add<T>(write: (records: Uint8Array, offset: number) => T): T {
    const split: Split = this.rng.nextFloat() < this.valFraction ? 'val' : 'train';
    const p = this.pending[split];
    const result = write(p.records, p.games * this.recordLength);
    if (++p.games === APPEND_GAMES) this.flush(split);
    return result;
  }

  /** Appends what is left and finishes the writer. */
  finish(): DatasetManifest {
    this.flush('train');
    this.flush('val');
    return this.writer.finish();
  }

  private flush(split: Split): void {
    const p = this.pending[split];
    if (p.games > 0) this.writer.append(split, p.records.subarray(0, p.games * this.recordLength));
    p.records.fill(this.padToken);
    p.games = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** The exit status of a run a signal stopped, as a shell reports one the signal ended: 130 for SIGINT, 143 for SIGTERM. */
export const signalExitCode = (signal: NodeJS.Signals): number => (signal === 'SIGINT' ? 130 : 143);

/**
 * Builds a dataset directory at `outDir` atomically: `build` fills a temporary sibling directory, which
 * is renamed to `outDir` only when `build` resolves. An existing `outDir` is an error unless `force`,
 * in which case it is replaced only after the new one is complete. On failure the temporary directory
 * is removed and `outDir` is untouched. SIGINT or SIGTERM removes it and exits, unless the build takes
 * `onInterrupt`: then the first signal is handed to it (to stop starting work and finish with what is
 * done) and only a second one exits.
 */
export async function buildDatasetDirectory<T>(
  outDir: string,
  force: boolean,
  build: (tmpDir: string) => Promise<T>,
  onInterrupt?: (signal: NodeJS.Signals) => void,
): Promise<T> {
  const target = resolve(outDir);
  if (existsSync(target) && !force) throw new UserError(`${outDir}: already exists (use --force to replace it)`);
  const parent = statSync(dirname(target), { throwIfNoEntry: false });
  if (!parent) throw new UserError(`${outDir}: parent directory ${dirname(target)} does not exist`);
  if (!parent.isDirectory()) throw new UserError(`${outDir}: ${dirname(target)} is not a directory`);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  // An interrupted build removes its partial directory instead of leaving it beside the real ones.
  let handedOn = false;
  const interrupted = (signal: NodeJS.Signals): void => {
    if (onInterrupt && !handedOn) {
      handedOn = true;
      onInterrupt(signal);
      return;
    }
    rmSync(tmp, { recursive: true, force: true });
    process.exit(signalExitCode(signal));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  let result: T;
  try {
    result = await build(tmp);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  if (existsSync(target)) {
    const old = join(dirname(target), `.${basename(target)}.old-${process.pid}`);
    renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
  return result;
}
