/**
 * `gamba generate`: synthetic games into a dataset directory. Chunks of games (datasets/generate-chunk.ts)
 * are made by worker threads, in any order, and handed to the writer strictly in chunk order, so the
 * bytes depend on the seed and the game count only.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CHUNK_GAMES, generateChunk, type ChunkRequest, type ChunkResult } from './generate-chunk.js';
import type { DatasetManifest } from './format.js';
import { recordShape, type DatasetGame } from './games.js';
import { DatasetWriter, buildDatasetDirectory } from './writer.js';

/** Default most games per shard: 60 MB shards for Othello. */
export const DEFAULT_SHARD_GAMES = 1_000_000;

export interface GenerateOptions {
  game: DatasetGame;
  games: number;
  seed: number;
  valFraction: number;
  /** Worker threads; 1 generates on the main thread. */
  workers: number;
  shardGames: number;
  force: boolean;
  /** Called after each chunk is written with the number of games written so far. */
  onProgress?: (gamesDone: number) => void;
}

export interface GenerateResult {
  manifest: DatasetManifest;
  /** Worker threads actually used (1 when generating on the main thread). */
  workers: number;
}

/** Writes the dataset to `outDir` (atomically; see buildDatasetDirectory). */
export async function generateDataset(outDir: string, options: GenerateOptions): Promise<GenerateResult> {
  const { game, games, seed, valFraction, shardGames, force } = options;
  return buildDatasetDirectory(outDir, force, async (tmpDir) => {
    const writer = new DatasetWriter(tmpDir, {
      ...recordShape(game),
      source: game.syntheticSource,
      seed,
      valFraction,
      chunkGames: CHUNK_GAMES,
      shardGames,
    });
    const requests = chunkRequests(game.name, games, seed, valFraction);
    let done = 0;
    const write = (result: ChunkResult): void => {
      writer.append('train', result.train);
      writer.append('val', result.val);
      done += (result.train.length + result.val.length) / game.recordLength;
      options.onProgress?.(done);
    };
    const workerFile = workerScript();
    const workers = workerFile && options.workers > 1 ? Math.min(options.workers, requests.length) : 1;
    if (workers > 1) await generateWithWorkers(workerFile!, workers, requests, write);
    else for (const request of requests) write(generateChunk(game, request));
    return { manifest: writer.finish(), workers };
  });
}

function chunkRequests(game: string, games: number, seed: number, valFraction: number): ChunkRequest[] {
  const requests: ChunkRequest[] = [];
  for (let start = 0, chunkIndex = 0; start < games; start += CHUNK_GAMES, chunkIndex++) {
    requests.push({ game, seed, chunkIndex, games: Math.min(CHUNK_GAMES, games - start), valFraction });
  }
  return requests;
}

/**
 * The compiled worker beside this module, or null when running from TypeScript sources (tests), where
 * generation falls back to the main thread with the same bytes.
 */
function workerScript(): URL | null {
  const url = new URL('./generate-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : null;
}

/**
 * Runs the chunk requests on `count` worker threads, each kept two chunks deep so it never waits for
 * the main thread; results are passed to `write` in chunk order (at most a few chunks wait out of order).
 */
function generateWithWorkers(script: URL, count: number, requests: ChunkRequest[], write: (result: ChunkResult) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const pool: Worker[] = [];
    const waiting = new Map<number, ChunkResult>();
    let nextToSend = 0;
    let nextToWrite = 0;
    let failed = false;
    const stop = (error?: unknown): void => {
      if (failed) return;
      if (error !== undefined) failed = true;
      for (const worker of pool) void worker.terminate();
      if (error !== undefined) reject(error);
      else resolve();
    };
    const send = (worker: Worker): void => {
      if (nextToSend < requests.length) worker.postMessage(requests[nextToSend++]);
    };
    for (let w = 0; w < count; w++) {
      const worker = new Worker(script);
      pool.push(worker);
      worker.on('message', (result: ChunkResult) => {
        if (failed) return;
        send(worker);
        waiting.set(result.chunkIndex, result);
        try {
          for (let ready = waiting.get(nextToWrite); ready; ready = waiting.get(nextToWrite)) {
            waiting.delete(nextToWrite++);
            write(ready);
          }
        } catch (error) {
          stop(error);
          return;
        }
        if (nextToWrite === requests.length) stop();
      });
      worker.on('error', (error) => stop(error));
      worker.on('exit', (code) => {
        if (nextToWrite < requests.length) stop(new Error(`generate worker exited with code ${code} before finishing`));
      });
    }
    for (let depth = 0; depth < 2; depth++) for (const worker of pool) send(worker);
  });
}
