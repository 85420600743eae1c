/**
 * Engine self-play into a dataset, for any game: several engine processes play games side by side,
 * game i by whichever engine is free, and the finished games are written in game order (so a dataset
 * depends on the seed, not on which engine was faster). If an engine dies or hangs, no new games are
 * started, the games already finished are written as the dataset, and the engine's error is reported
 * after it, naming the directory. generate-chess-selfplay.ts and generate-othello-selfplay.ts say how
 * their games are played.
 */
import { UserError } from '../src/util/errors.js';
import { recordShape, type DatasetGame } from './games.js';
import type { DatasetManifest, Split } from './format.js';
import { DatasetWriter, buildDatasetDirectory } from './writer.js';

export interface SelfPlayEngine {
  quit(): Promise<void>;
  kill(): void;
}

export interface SelfPlayRecord {
  split: Split;
  /** One record of the game's record length. */
  record: Uint8Array;
  plies: number;
}

/** What every self-play run is asked for, whatever the game. */
export interface SelfPlayRunOptions {
  games: number;
  seed: number;
  valFraction: number;
  shardGames: number;
  force: boolean;
  /** Engines playing at once (at most one per game). */
  engines: number;
  onProgress?: (gamesDone: number) => void;
}

export interface EngineSelfPlaySpec<E extends SelfPlayEngine> extends SelfPlayRunOptions {
  game: DatasetGame;
  startEngine: () => Promise<E>;
  /** The manifest's `source`, from the first started engine (its name and version). */
  sourceOf: (engine: E) => string;
  /** Plays game `index` on `engine`. */
  playGame: (engine: E, index: number) => Promise<SelfPlayRecord>;
}

export interface EngineSelfPlayResult<E> {
  manifest: DatasetManifest;
  /** The first engine, for its name in a summary (already quit). */
  engine: E;
  engines: number;
  /** Plies over all games. */
  plies: number;
}

export async function generateEngineSelfPlay<E extends SelfPlayEngine>(outDir: string, spec: EngineSelfPlaySpec<E>): Promise<EngineSelfPlayResult<E>> {
  let failure: unknown = null;
  const result = await buildDatasetDirectory(outDir, spec.force, async (tmpDir) => {
    const count = Math.min(spec.engines, spec.games);
    const started = await Promise.allSettled(Array.from({ length: count }, () => spec.startEngine()));
    const engines = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (refused) {
      for (const engine of engines) engine.kill();
      throw refused.reason;
    }
    const writer = new DatasetWriter(tmpDir, {
      ...recordShape(spec.game),
      source: spec.sourceOf(engines[0]),
      seed: spec.seed,
      valFraction: spec.valFraction,
      chunkGames: 1,
      shardGames: spec.shardGames,
    });
    const finished = new Map<number, SelfPlayRecord>();
    let nextGame = 0;
    let nextToWrite = 0;
    let done = 0;
    let plies = 0;
    const writeReady = (): void => {
      for (let ready = finished.get(nextToWrite); ready; ready = finished.get(nextToWrite)) {
        finished.delete(nextToWrite++);
        writer.append(ready.split, ready.record);
      }
    };
    const worker = async (engine: E): Promise<void> => {
      while (failure === null && nextGame < spec.games) {
        const index = nextGame++;
        let game: SelfPlayRecord;
        try {
          game = await spec.playGame(engine, index);
        } catch (error) {
          failure ??= error;
          return;
        }
        plies += game.plies;
        finished.set(index, game);
        writeReady();
        spec.onProgress?.(++done);
      }
    };
    try {
      await Promise.all(engines.map(worker));
    } finally {
      await Promise.all(engines.map((engine) => engine.quit()));
    }
    // After a failure, games that finished after a gap are kept too (in game order).
    for (const index of [...finished.keys()].sort((a, b) => a - b)) writer.append(finished.get(index)!.split, finished.get(index)!.record);
    if (done === 0) throw failure ?? new UserError('no game was played');
    return { manifest: writer.finish(), engine: engines[0], engines: count, plies };
  });
  if (failure !== null) {
    const message = failure instanceof Error ? failure.message : String(failure);
    throw new UserError(`${message} (the ${result.manifest.counts.train + result.manifest.counts.val} games finished before it were written to ${outDir})`);
  }
  return result;
}
