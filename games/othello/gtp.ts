/**
 * An Othello engine spoken to over GTP (Go Text Protocol), e.g. Debian grhino's `/usr/games/gtp-rhino`:
 * `boardsize 8`, `clear_board`, `play black d3`, `genmove white` -> `= D3` (or `= pass`). Its square
 * names are ours (a1 top-left). The engine keeps its own board; the caller tells it every move and
 * checks its answers against OthelloBoard. Dead or hung engines become UserErrors (engine-process.ts).
 */
import { EngineProcess } from '../../src/util/engine-process.js';
import { UserError } from '../../src/util/errors.js';
import { BLACK, type OthelloBoard } from './board.js';
import { parseSquare, squareName } from './notation.js';

export const RHINO_PATH = '/usr/games/gtp-rhino';

export type GtpColor = 'black' | 'white';

/** The GTP name of the side to move on `board`. */
export const colorToMove = (board: OthelloBoard): GtpColor => (board.toMove === BLACK ? 'black' : 'white');

export class GtpEngine {
  name = '';
  version = '';

  private constructor(
    private readonly process: EngineProcess,
    readonly label: string,
    private readonly timeoutMs: number,
  ) {}

  /** Starts `path` with `args` (for gtp-rhino e.g. `['--level', '3']`) and asks its name and version. */
  static async start(path: string, args: string[] = [], timeoutMs = 30_000): Promise<GtpEngine> {
    const engine = new GtpEngine(new EngineProcess(path, path, args), path, timeoutMs);
    try {
      engine.name = await engine.command('name');
      engine.version = await engine.command('version');
      await engine.command('boardsize 8');
    } catch (error) {
      engine.process.kill();
      throw error;
    }
    return engine;
  }

  /**
   * Sends one command and returns the text of its success answer (`= text`). A failure answer
   * (`? message`) is a UserError naming the engine, the command and the message.
   */
  async command(text: string): Promise<string> {
    this.process.send(text);
    const line = await this.process.waitFor((l) => l.startsWith('=') || l.startsWith('?'), `the answer to '${text}'`, this.timeoutMs);
    const answer = line.slice(1).trim();
    if (line.startsWith('?')) throw new UserError(`engine ${this.label} refused '${text}': ${answer}`);
    return answer;
  }

  async clearBoard(): Promise<void> {
    await this.command('clear_board');
  }

  async play(color: GtpColor, square: number): Promise<void> {
    await this.command(`play ${color} ${squareName(square)}`);
  }

  /** The engine's move for `color`: a square, or 'pass'. */
  async genmove(color: GtpColor): Promise<number | 'pass'> {
    const answer = await this.command(`genmove ${color}`);
    if (answer.toLowerCase() === 'pass') return 'pass';
    try {
      return parseSquare(answer);
    } catch {
      throw new UserError(`engine ${this.label} answered 'genmove ${color}' with ${JSON.stringify(answer)}, which is not a square`);
    }
  }

  /**
   * The engine's move for the side to move on `board` (after `moves`), which must be legal there; a
   * pass or an illegal square is a UserError naming the engine and the moves so far.
   */
  async legalMove(board: OthelloBoard, moves: readonly number[]): Promise<number> {
    const color = colorToMove(board);
    const answer = await this.genmove(color);
    if (answer === 'pass' || !board.isLegal(answer)) {
      throw new UserError(`engine ${this.label} answered ${answer === 'pass' ? 'pass' : squareName(answer)} for ${color}, not a legal move after ${moves.map(squareName).join(' ') || 'the start'}`);
    }
    return answer;
  }

  async quit(): Promise<void> {
    await this.process.close('quit');
  }

  kill(): void {
    this.process.kill();
  }
}
