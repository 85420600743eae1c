/**
 * Engine self-play into a dataset, for any game: engine slots play games side by side, game i by
 * whichever slot is free, and the finished games are written in game order (so a dataset depends on
 * the seed, not on which engine was faster). Two or more slots are split over worker threads
 * (selfplay-thread.ts), one a slot up to one a core (selfPlayThreads), so that the bookkeeping of a
 * game between engine moves (chess.js's legality and SAN, about 0.5 ms a ply) is not all on one thread:
 * with small node budgets it costs as much as the engines' search. If an engine dies or hangs, no new
 * games are started, the games already finished are written as the dataset, and the engine's error is
 * reported after it, naming the directory. With a time limit (`minutes`), no game starts after it and
 * the games started finish: the dataset is then the first games of the full run, the same bytes. SIGINT
 * or SIGTERM does the same at once (a second signal abandons the run and writes nothing), so a run
 * stopped by hand keeps its games (a terminal's SIGINT also ends the engines, dropping the games under way).
 * generate-chess-selfplay.ts and generate-othello-selfplay.ts say how their games are played.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError } from '../src/util/errors.js';
import { InOrder } from '../src/util/in-order.js';
import { startAll } from '../src/util/start-all.js';
import { recordShape, type DatasetGame } from './games.js';
import type { DatasetManifest, Split } from './format.js';
import { DatasetWriter, buildDatasetDirectory } from './writer.js';

/**
 * Worker threads for `engines` slots on `cores` cores: one a slot, up to one a core, and none (the main
 * thread) where that is one. A slot's thread and its engine take turns, the thread keeping the game
 * while the engine searches, so a pair shares a core: two slots on two threads made games 1.2 to 1.5x as
 * fast as on the main thread on a 2-core machine, and four slots on two threads no faster than on one.
 */
export function selfPlayThreads(engines: number, cores: number): number {
  const threads = Math.min(engines, cores);
  return threads > 1 ? threads : 0;
}

export interface SelfPlayEngine {
  quit(): Promise<void>;
  kill(): void;
}

export interface SelfPlayRecord {
  split: Split;
  /** One record of the game's record length, or null where this index writes nothing. */
  record: Uint8Array | null;
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
  /** Start no game after this many minutes: fewer games than asked, each one whole. */
  minutes?: number;
  onProgress?: (gamesDone: number) => void;
}

/** How a game's engines start and play; the same on the main thread and on a worker thread. */
export interface SelfPlaySource<E extends SelfPlayEngine> {
  game: DatasetGame;
  startEngine: () => Promise<E>;
  /** The manifest's `source`, from the first started engine (its name and version). */
  sourceOf: (engine: E) => string;
  /** The engine's name and version, for a summary. */
  engineName: (engine: E) => string;
  /** Plays game `index` on `engine`. */
  playGame: (engine: E, index: number) => Promise<SelfPlayRecord>;
}

/**
 * Where a worker thread rebuilds the source: a module (its import.meta.url) exporting
 * `selfPlaySource(options)`, and options that survive a structured clone (no functions).
 */
export interface SelfPlaySourceModule {
  url: string;
  options: unknown;
}

export interface EngineSelfPlayResult {
  manifest: DatasetManifest;
  /** The first engine's name and version. */
  engine: string;
  engines: number;
  /** Worker threads the engines ran on (0: all on the main thread). */
  threads: number;
  /** Plies over all games. */
  plies: number;
  /** Games written: all those asked for, or fewer when the time limit stopped the run. */
  games: number;
  /** Whether the time limit stopped the run before every game asked for had started. */
  timedOut: boolean;
  /** The signal that stopped the run early, or null. */
  interrupted: NodeJS.Signals | null;
}

interface StartedNames {
  source: string;
  engine: string;
}

/** Hands out game indices (null: stop), takes finished games, and hears of a failed engine. */
interface SlotCalls {
  claim: () => number | null | Promise<number | null>;
  deliver: (index: number, game: SelfPlayRecord) => void;
  fail: (error: unknown) => void;
}

/** Engine slots driven by one thread. */
interface SlotGroup {
  /** Starts every engine of the group (or none: a refusal kills those started). */
  start(): Promise<StartedNames>;
  /** Plays claimed games until a claim says stop; quits the engines at the end. Never rejects: a failure goes to `fail`. */
  play(calls: SlotCalls): Promise<void>;
  kill(): void;
}

/** The slots of the calling thread. */
export class EngineSlots<E extends SelfPlayEngine> implements SlotGroup {
  private engines: E[] = [];

  constructor(private readonly source: SelfPlaySource<E>, private readonly count: number) {}

  async start(): Promise<StartedNames> {
    this.engines = await startAll(this.count, () => this.source.startEngine(), (engine) => engine.kill());
    return { source: this.source.sourceOf(this.engines[0]), engine: this.source.engineName(this.engines[0]) };
  }

  async play({ claim, deliver, fail }: SlotCalls): Promise<void> {
    const loop = async (engine: E): Promise<void> => {
      for (let index = await claim(); index !== null; index = await claim()) {
        let game: SelfPlayRecord;
        try {
          game = await this.source.playGame(engine, index);
        } catch (error) {
          fail(error);
          return;
        }
        deliver(index, game);
      }
    };
    try {
      await Promise.all(this.engines.map(loop));
    } finally {
      await Promise.all(this.engines.map((engine) => engine.quit()));
    }
  }

  kill(): void {
    for (const engine of this.engines) engine.kill();
  }
}

/** What a worker thread and the main thread say to each other (selfplay-thread.ts is the other side). */
export type ThreadMessage =
  | { type: 'started'; names: StartedNames }
  | { type: 'refused'; error: SerializedError }
  | { type: 'claim' }
  | { type: 'game'; index: number; game: SelfPlayRecord }
  | { type: 'failed'; error: SerializedError }
  | { type: 'finished' };
export type MainMessage = { type: 'index'; index: number | null } | { type: 'kill' };
export interface ThreadData {
  url: string;
  options: unknown;
  engines: number;
}

export interface SerializedError {
  message: string;
  user: boolean;
}

export function serializeError(error: unknown): SerializedError {
  return { message: error instanceof Error ? error.message : String(error), user: error instanceof UserError };
}

function deserializeError(error: SerializedError): Error {
  return error.user ? new UserError(error.message) : new Error(error.message);
}

/** Engine slots on a worker thread. */
class ThreadSlots implements SlotGroup {
  private readonly worker: Worker;
  private onMessage: (message: ThreadMessage) => void = () => {};
  private onGone: (why: Error) => void = () => {};
  private readonly early: ThreadMessage[] = [];

  constructor(script: URL, data: ThreadData) {
    this.worker = new Worker(script, { workerData: data });
    this.worker.on('message', (message: ThreadMessage) => this.onMessage(message));
    this.worker.on('error', (error) => this.onGone(error));
    this.worker.on('exit', (code) => this.onGone(new Error(`self-play thread exited with code ${code}`)));
  }

  start(): Promise<StartedNames> {
    return new Promise((resolve, reject) => {
      this.onGone = reject;
      this.onMessage = (message) => {
        if (message.type === 'started') resolve(message.names);
        else if (message.type === 'refused') reject(deserializeError(message.error));
        // the thread claims its first games as soon as its engines run, maybe before the other
        // threads' engines do and play() is called: those claims wait for it
        else this.early.push(message);
      };
    });
  }

  play({ claim, deliver, fail }: SlotCalls): Promise<void> {
    return new Promise((resolve) => {
      this.onGone = (why) => {
        fail(why);
        resolve();
      };
      this.onMessage = (message) => {
        // claims are answered in the order they came (a resolved promise's callbacks run in order)
        if (message.type === 'claim') void Promise.resolve(claim()).then((index) => this.send({ type: 'index', index }));
        else if (message.type === 'game') deliver(message.index, message.game);
        else if (message.type === 'failed') fail(deserializeError(message.error));
        else if (message.type === 'finished') {
          this.onGone = () => {};
          void this.worker.terminate();
          resolve();
        }
      };
      for (const message of this.early.splice(0)) this.onMessage(message);
    });
  }

  kill(): void {
    this.onGone = () => {};
    this.send({ type: 'kill' });
  }

  private send(message: MainMessage): void {
    this.worker.postMessage(message);
  }
}

/**
 * The compiled worker beside this module, or null when running from TypeScript sources (tests), where
 * every slot runs on the main thread.
 */
function threadScript(): URL | null {
  const url = new URL('./selfplay-thread.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : null;
}

/** The engine slots: one group on this thread, or shared out evenly over selfPlayThreads worker threads. */
function slotGroups<E extends SelfPlayEngine>(engines: number, source: SelfPlaySource<E>, module: SelfPlaySourceModule): SlotGroup[] {
  const script = threadScript();
  const threads = selfPlayThreads(engines, availableParallelism());
  if (threads === 0 || script === null) return [new EngineSlots(source, engines)];
  return Array.from({ length: threads }, (_, t) => {
    const share = Math.floor(engines / threads) + (t < engines % threads ? 1 : 0);
    return new ThreadSlots(script, { url: module.url, options: module.options, engines: share });
  });
}

export async function generateEngineSelfPlay<E extends SelfPlayEngine>(
  outDir: string,
  run: SelfPlayRunOptions,
  source: SelfPlaySource<E>,
  module: SelfPlaySourceModule,
): Promise<EngineSelfPlayResult> {
  let failure: unknown = null;
  let interrupted: NodeJS.Signals | null = null;
  const result = await buildDatasetDirectory(outDir, run.force, async (tmpDir) => {
    const engines = Math.min(run.engines, run.games);
    const groups = slotGroups(engines, source, module);
    const started = await Promise.allSettled(groups.map((group) => group.start()));
    const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (refused) {
      for (const group of groups) group.kill();
      throw refused.reason;
    }
    const names = (started[0] as PromiseFulfilledResult<StartedNames>).value;
    const writer = new DatasetWriter(tmpDir, {
      ...recordShape(source.game),
      source: names.source,
      seed: run.seed,
      valFraction: run.valFraction,
      chunkGames: 1,
      shardGames: run.shardGames,
    });
    const write = (game: SelfPlayRecord): void => {
      if (game.record) writer.append(game.split, game.record);
    };
    const inOrder = new InOrder<SelfPlayRecord>(write);
    let nextGame = 0;
    let done = 0;
    let plies = 0;
    const deadline = run.minutes === undefined ? Infinity : performance.now() + run.minutes * 60_000;
    let timedOut = false;
    const calls: SlotCalls = {
      claim: () => {
        if (failure !== null || interrupted !== null || nextGame >= run.games) return null;
        if (performance.now() >= deadline) {
          timedOut = true;
          return null;
        }
        return nextGame++;
      },
      deliver: (index, game) => {
        plies += game.plies;
        inOrder.put(index, game);
        run.onProgress?.(++done);
      },
      fail: (error) => {
        failure ??= error;
      },
    };
    await Promise.all(groups.map((group) => group.play(calls)));
    // After a failure, games that finished after a gap are kept too (in game order).
    for (const game of inOrder.rest()) write(game);
    if (done === 0) {
      if (interrupted !== null) throw new UserError(`${interrupted} before any game finished: nothing written`);
      throw failure ?? new UserError(timedOut ? `no game started within ${run.minutes} minutes` : 'no game was played');
    }
    const threads = groups[0] instanceof ThreadSlots ? groups.length : 0;
    return { manifest: writer.finish(), engine: names.engine, engines, threads, plies, games: done, timedOut, interrupted };
  }, (signal) => {
    interrupted = signal;
  });
  // A signal from a terminal reaches the engines too: their deaths after it are the stop, not a failure.
  if (failure !== null && interrupted === null) {
    const message = failure instanceof Error ? failure.message : String(failure);
    throw new UserError(`${message} (the ${result.manifest.counts.train + result.manifest.counts.val} games finished before it were written to ${outDir})`);
  }
  return result;
}
