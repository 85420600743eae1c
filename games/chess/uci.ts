/**
 * A UCI chess engine as a child process: the npm `stockfish` package (WASM, run with this Node) by
 * default, or any UCI binary (`--engine /usr/games/stockfish`). Handshake (`uci` -> `id name`,
 * options, `uciok`; `isready` -> `readyok`), options checked against what the engine declares, and
 * `go` with a node or time limit that returns the move with the search's nodes, nodes/s and time.
 * A dead or hung engine becomes a UserError naming it (src/util/engine-process.ts).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EngineProcess } from '../../src/util/engine-process.js';
import { UserError } from '../../src/util/errors.js';

export interface EngineCommand {
  command: string;
  args: string[];
  /** How messages and reports name the engine: the path it was started from. */
  label: string;
}

/** The npm stockfish package's single-threaded full-network build, run with the current Node. */
export function defaultEngineCommand(): EngineCommand {
  let script: string;
  try {
    const require = createRequire(import.meta.url);
    script = join(dirname(require.resolve('stockfish/package.json')), 'bin', 'stockfish-19-single.js');
  } catch {
    throw new UserError('the npm package `stockfish` (an optional dependency) is not installed: run `npm install`, or name a UCI engine with --engine PATH (e.g. /usr/games/stockfish)');
  }
  if (!existsSync(script)) throw new UserError(`${script}: the stockfish package has no single-threaded build here; name a UCI engine with --engine PATH`);
  return { command: process.execPath, args: [script], label: 'npm:stockfish (stockfish-19-single.js)' };
}

/** `--engine PATH` or the default; a `.js`, `.mjs` or `.cjs` file runs with Node, anything else is executed. */
export function engineCommand(path?: string): EngineCommand {
  if (path === undefined) return defaultEngineCommand();
  if (!existsSync(path)) throw new UserError(`--engine ${path}: no such file`);
  return /\.[cm]?js$/.test(path) ? { command: process.execPath, args: [path], label: path } : { command: path, args: [], label: path };
}

export interface UciOption {
  type: string;
  min?: number;
  max?: number;
  default?: string;
}

export interface SearchLimit {
  /** Fixed search time per move (UCI `go movetime`). */
  movetimeMs?: number;
  /** Fixed node budget per move (UCI `go nodes`). */
  nodes?: number;
}

export interface SearchResult {
  /** UCI move (`e2e4`), or null when the engine answered `(none)` (no legal move). */
  move: string | null;
  /** From the last `info` line of the search (0 when the engine sent none). */
  nodes: number;
  nps: number;
  depth: number;
  /** Wall time from `go` to `bestmove`. */
  wallMs: number;
}

export interface UciTimeouts {
  /** For the handshake and isready (the WASM engine loads its network first: seconds). */
  startMs: number;
  /** Added to movetime, or the whole allowance for a node-limited search. */
  moveMs: number;
}

const DEFAULT_TIMEOUTS: UciTimeouts = { startMs: 60_000, moveMs: 30_000 };

export class UciEngine {
  /** The engine's `id name` (e.g. "Stockfish 17"). */
  name = '';
  readonly options = new Map<string, UciOption>();
  /** Options set without confirmation, sent with the next search (setOption). */
  private readonly queued: string[] = [];

  private constructor(
    private readonly process: EngineProcess,
    readonly label: string,
    private readonly timeouts: UciTimeouts,
  ) {}

  static async start(command: EngineCommand, timeouts: Partial<UciTimeouts> = {}): Promise<UciEngine> {
    const engine = new UciEngine(new EngineProcess(command.label, command.command, command.args), command.label, { ...DEFAULT_TIMEOUTS, ...timeouts });
    try {
      await engine.handshake();
    } catch (error) {
      engine.process.kill();
      throw error;
    }
    return engine;
  }

  get alive(): boolean {
    return this.process.alive;
  }

  private async handshake(): Promise<void> {
    this.process.send('uci');
    await this.process.waitFor(
      (line) => {
        if (line.startsWith('id name ')) this.name = line.slice(8).trim();
        const option = /^option name (.+?) type (\S+)(.*)$/.exec(line);
        if (option) {
          const rest = option[3];
          const num = (key: string): number | undefined => {
            const m = new RegExp(`\\b${key} (-?\\d+)`).exec(rest);
            return m ? Number(m[1]) : undefined;
          };
          const def = /\bdefault ?(.*?)(?: min | max | var |$)/.exec(rest);
          this.options.set(option[1].toLowerCase(), { type: option[2], min: num('min'), max: num('max'), default: def?.[1] });
        }
        return line.trim() === 'uciok';
      },
      "'uciok' (the reply to 'uci'; is it a UCI engine?)",
      this.timeouts.startMs,
    );
    await this.ready(this.timeouts.startMs);
  }

  /** `isready` -> `readyok`. */
  async ready(timeoutMs = this.timeouts.moveMs): Promise<void> {
    this.process.send('isready');
    await this.process.waitFor((line) => line.trim() === 'readyok', "'readyok'", timeoutMs);
  }

  /**
   * `setoption`, refusing options the engine does not declare and spin values outside its range. With
   * `confirm` false it is not sent alone and confirmed by `isready`, but written with the next search's
   * commands in one write (UCI engines take commands in order): self-play changes the skill level every
   * ply, and each write wakes the engine.
   */
  async setOption(name: string, value: number | string, confirm = true): Promise<void> {
    const option = this.options.get(name.toLowerCase());
    if (!option) throw new UserError(`engine ${this.label} (${this.name}) has no option "${name}"`);
    if (option.type === 'spin' && typeof value === 'number') {
      if ((option.min !== undefined && value < option.min) || (option.max !== undefined && value > option.max)) {
        throw new UserError(`engine ${this.label} (${this.name}): option "${name}" takes ${option.min}..${option.max}, got ${value}`);
      }
    }
    const line = `setoption name ${name} value ${value}`;
    if (!confirm) {
      this.queued.push(line);
      return;
    }
    this.process.send(line);
    await this.ready();
  }

  /** Forget the previous game (hash, history). */
  async newGame(): Promise<void> {
    this.process.send('ucinewgame');
    await this.ready();
  }

  /** Searches the position after `uciMoves` from the start position. */
  async bestMove(uciMoves: readonly string[], limit: SearchLimit): Promise<SearchResult> {
    const position = uciMoves.length > 0 ? `position startpos moves ${uciMoves.join(' ')}` : 'position startpos';
    const go = limit.nodes !== undefined ? `go nodes ${limit.nodes}` : `go movetime ${limit.movetimeMs ?? 100}`;
    const start = performance.now();
    let nodes = 0;
    let nps = 0;
    let depth = 0;
    this.process.send([...this.queued.splice(0), position, go].join('\n'));
    const line = await this.process.waitFor(
      (text) => {
        if (text.startsWith('info ')) {
          const n = /\bnodes (\d+)/.exec(text);
          const s = /\bnps (\d+)/.exec(text);
          const d = /\bdepth (\d+)/.exec(text);
          if (n) nodes = Number(n[1]);
          if (s) nps = Number(s[1]);
          if (d) depth = Number(d[1]);
        }
        return text.startsWith('bestmove');
      },
      `'bestmove' after '${go}'`,
      this.timeouts.moveMs + (limit.movetimeMs ?? 0),
    );
    const wallMs = performance.now() - start;
    const move = line.split(/\s+/)[1] ?? '';
    if (move !== '(none)' && move !== '0000' && !/^[a-h][1-8][a-h][1-8][qrbn]?$/.test(move)) {
      throw new UserError(`engine ${this.label} answered ${JSON.stringify(line)}, which is not a UCI move`);
    }
    return { move: move === '(none)' || move === '0000' ? null : move, nodes, nps, depth, wallMs };
  }

  async quit(): Promise<void> {
    await this.process.close('quit');
  }

  kill(): void {
    this.process.kill();
  }
}
