/**
 * Board-state labels for probes: replay a game's tokens on the real engine (so passes are handled the
 * way the games were generated) and record, for the position after each move t = 0..n-1, one value per
 * square. Arrays are (n, 64): label of square s after move t at [t * 64 + s].
 */
import { UserError } from '../../src/util/errors.js';
import { BLACK, BLACK_CELL, EMPTY_CELL, OthelloBoard, WHITE_CELL } from './board.js';
import { PAD_TOKEN, TOKEN_TO_SQUARE, VOCAB_SIZE, squareName } from './notation.js';

/** mineTheirsLabels values, relative to the player who just made move t. */
export const MINE = 1;
export const THEIRS = 2;

export interface OthelloLabels {
  /** Number of moves n (tokens before the padding). */
  moves: number;
  /** (n, 64): 0 empty, 1 mine, 2 theirs, for the player who just made move t. */
  mineTheirs: Uint8Array;
  /** (n, 64): 0 empty, 1 black, 2 white. */
  blackWhite: Uint8Array;
  /** (n, 64): 1 where move t flipped a disc. */
  flipped: Uint8Array;
  /** (n, 64): 1 where the player to move after move t may play (all 0 once the game is over). */
  legalNext: Uint8Array;
}

/** Number of moves in a 0-padded token record; throws if a move token follows the padding. */
export function gameLength(tokens: Uint8Array): number {
  let n = 0;
  while (n < tokens.length && tokens[n] !== PAD_TOKEN) n++;
  for (let t = n; t < tokens.length; t++) {
    if (tokens[t] !== PAD_TOKEN) throw new UserError(`Othello game record has move token ${tokens[t]} at position ${t} after the padding starts at ${n}`);
  }
  return n;
}

/** All four label sets in one replay. Throws a UserError naming the move on a bad or illegal token. */
export function othelloLabels(tokens: Uint8Array): OthelloLabels {
  const n = gameLength(tokens);
  const labels: OthelloLabels = {
    moves: n,
    mineTheirs: new Uint8Array(n * 64),
    blackWhite: new Uint8Array(n * 64),
    flipped: new Uint8Array(n * 64),
    legalNext: new Uint8Array(n * 64),
  };
  replayGame(tokens, n, (t, board) => {
    const row = t * 64;
    const moverCell = board.lastMover === BLACK ? BLACK_CELL : WHITE_CELL;
    for (let s = 0; s < 64; s++) {
      const cell = board.cellAt(s);
      labels.blackWhite[row + s] = cell;
      labels.mineTheirs[row + s] = cell === EMPTY_CELL ? 0 : cell === moverCell ? MINE : THEIRS;
    }
    for (const s of board.lastFlipped) labels.flipped[row + s] = 1;
    for (const s of board.legalMoves()) labels.legalNext[row + s] = 1;
  });
  return labels;
}

/**
 * Plays the first n moves of a record on a fresh board, calling `visit` after each; returns the final
 * board. Throws a UserError naming the move on a bad or illegal token.
 */
function replayGame(tokens: Uint8Array, n: number, visit: (t: number, board: OthelloBoard) => void): OthelloBoard {
  const board = OthelloBoard.initial();
  for (let t = 0; t < n; t++) {
    const token = tokens[t];
    if (token >= VOCAB_SIZE) throw new UserError(`Othello game record: token ${token} at move ${t} is outside the vocabulary (1..${VOCAB_SIZE - 1})`);
    const sq = TOKEN_TO_SQUARE[token];
    if (!board.isLegal(sq)) {
      const state = board.isOver() ? 'the game is already over' : `not a legal move for ${board.toMove === 0 ? 'black' : 'white'}`;
      throw new UserError(`Othello game record: move ${t} (token ${token}, ${squareName(sq)}) is illegal: ${state}`);
    }
    board.play(sq);
    visit(t, board);
  }
  return board;
}

/**
 * 1 at the record positions whose move the side that lost the game made, 0 elsewhere (the padding
 * too); null for a draw. Found by replay, so passes give the right mover.
 */
export function loserMoves(tokens: Uint8Array): Uint8Array | null {
  const n = gameLength(tokens);
  const movers = new Uint8Array(n);
  const winner = replayGame(tokens, n, (t, board) => (movers[t] = board.lastMover)).winner();
  if (winner === null) return null;
  const out = new Uint8Array(tokens.length);
  for (let t = 0; t < n; t++) out[t] = movers[t] === winner ? 0 : 1;
  return out;
}

/**
 * A record that stops before its game is over is a labelled position (`gamba dataset
 * label-positions`): the moves that led there, then an engine's answer to it. 1 at the record
 * positions of the moves before that answer, which are not to be learned; null for a whole game.
 */
export function labelledPositionPrefix(tokens: Uint8Array): Uint8Array | null {
  const n = gameLength(tokens);
  if (replayGame(tokens, n, () => {}).isOver()) return null;
  const out = new Uint8Array(tokens.length);
  out.fill(1, 0, n - 1);
  return out;
}

export function mineTheirsLabels(tokens: Uint8Array): Uint8Array {
  return othelloLabels(tokens).mineTheirs;
}

export function blackWhiteLabels(tokens: Uint8Array): Uint8Array {
  return othelloLabels(tokens).blackWhite;
}

export function flippedLabels(tokens: Uint8Array): Uint8Array {
  return othelloLabels(tokens).flipped;
}

export function legalNextLabels(tokens: Uint8Array): Uint8Array {
  return othelloLabels(tokens).legalNext;
}
