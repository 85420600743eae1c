/**
 * Where a probe looks in a game record, and what the board is there, per game:
 *   othello: every input position t = 0 .. min(moves, L-1) - 1; the row is taken after feeding move
 *            t + 1 and pairs with the board after that move (probe point t, "move t + 1");
 *   chess:   every `.` of the game string among the input positions 0 .. L-2; the row is taken after
 *            feeding the `.` and pairs with the board before White's move of that number, White to move
 *            (probe point k, the k-th `.`, "full move k + 1"). "Mine" is the side to move: White.
 * Either way probe point k of a game is reported as move number k + 1 (metrics.ts, majority.ts).
 */
import { chessBoardLabels } from '../games/chess/labels.js';
import { decodeChessTokens } from '../games/chess/vocabulary.js';
import { othelloLabels } from '../games/othello/labels.js';
import { UserError } from '../src/util/errors.js';
import { othelloTargetLabels, SQUARES, type OthelloTarget, type ProbeGame, type ProbeTarget } from './targets.js';

export interface ProbedGame {
  /** Token index of each probe point, ascending: the row is captured after feeding this token. */
  at: Int32Array;
  /** (points, 64) class labels, one board per probe point. */
  labels: Uint8Array;
}

/** How the report speaks of a game's probe points. */
export interface ProbePointsText {
  /** What the probe points are, for report.json and the page. */
  points: string;
  /** Axis label of the by-move charts. */
  moveAxis: string;
  /** Caption of one decoded board: `${boardAt} ${move}`. */
  boardAt: string;
  /** Whose "mine" is, when the classes say mine/theirs. */
  mine: string | null;
  /** Move numbers of the decoded boards shown in the report (held-out games 0, 1, 2, 3). */
  exampleMoves: number[];
}

export const PROBE_POINTS_TEXT: Record<ProbeGame, ProbePointsText> = {
  othello: {
    points: 'every move: the board after move m, read after the model is fed move m',
    moveAxis: 'move number (board after this many moves)',
    boardAt: 'after move',
    mine: 'the player who just moved (mine-theirs)',
    exampleMoves: [12, 24, 36, 48],
  },
  chess: {
    points: "every '.' of the game string: the board before White's move m (White to move), read after the model is fed the '.' of move m",
    moveAxis: "full-move number m (board before White's move m)",
    boardAt: "before White's move",
    mine: 'White, the side to move at every probed position',
    exampleMoves: [5, 15, 30, 45],
  },
};

/**
 * The probe points and labels of `count` records of `recordLength` tokens, of which the model reads
 * positions 0 .. recordLength-2 (its training inputs). `where` prefixes errors (file and split).
 */
export function probedGames(game: ProbeGame, target: ProbeTarget, records: Uint8Array, recordLength: number, where: string): ProbedGame[] {
  const count = records.length / recordLength;
  const inputs = recordLength - 1;
  const out: ProbedGame[] = [];
  for (let g = 0; g < count; g++) {
    const record = records.subarray(g * recordLength, (g + 1) * recordLength);
    try {
      out.push(game === 'othello' ? othelloPoints(target as OthelloTarget, record, inputs) : chessPoints(record, inputs));
    } catch (error) {
      if (error instanceof UserError || error instanceof RangeError) throw new UserError(`${where} game ${g}: ${error.message}`);
      throw error;
    }
  }
  return out;
}

function othelloPoints(target: OthelloTarget, record: Uint8Array, inputs: number): ProbedGame {
  const all = othelloLabels(record);
  const n = Math.min(all.moves, inputs);
  return { at: Int32Array.from({ length: n }, (_, t) => t), labels: othelloTargetLabels(target, all).subarray(0, n * SQUARES) };
}

function chessPoints(record: Uint8Array, inputs: number): ProbedGame {
  // Padding is the trailing run of spaces (a game string never ends with a space).
  const text = decodeChessTokens(record).replace(/ +$/, '');
  const { positions, labels } = chessBoardLabels(text);
  let n = 0;
  while (n < positions.length && positions[n] < inputs) n++;
  return { at: Int32Array.from(positions.slice(0, n)), labels: labels.subarray(0, n * SQUARES) };
}
