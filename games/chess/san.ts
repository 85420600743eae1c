/**
 * Moves in Standard Algebraic Notation through chess.js, strictly. chess.js's own parser is lenient: it
 * takes `e2e4`, `0-0`, `a8Q` and even the null move `--`. The anchors' strings hold plain SAN only, so
 * a move is accepted here only when it has SAN's shape and chess.js finds it legal in strict mode. A
 * check mark the text left out (or wrote in place of a mate sign) is tolerated; the move is returned
 * with chess.js's canonical SAN, which is what goes into a game string.
 */
import { Chess, type Move } from 'chess.js';

export const STANDARD_START_FEN = 'rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1';

/** Why a move text was refused. */
export type MoveProblem = 'null-move' | 'nonstandard-notation' | 'illegal-move' | 'unparsable';

/** Castling, piece moves (optionally disambiguated), pawn moves and captures, promotions; optional + or #. */
const SAN_SHAPE = /^(?:O-O(?:-O)?|[KQRBN][a-h]?[1-8]?x?[a-h][1-8]|[a-h](?:x[a-h])?[1-8](?:=[QRBN])?)[+#]?$/;
/** Null moves as PGN writers spell them. */
const NULL_MOVES = new Set(['--', 'Z0', '0000', '@@@@', 'null']);

/** True when `text` is shaped like a SAN move (legality aside). */
export function looksLikeSan(text: string): boolean {
  return SAN_SHAPE.test(text);
}

/**
 * Plays `text` on `chess` if it is a legal move written in SAN; returns the move, or the problem (and
 * leaves `chess` unchanged).
 */
export function playSan(chess: Chess, text: string): Move | MoveProblem {
  if (NULL_MOVES.has(text)) return 'null-move';
  if (!SAN_SHAPE.test(text)) return lenientlyLegal(chess, text) ? 'nonstandard-notation' : 'unparsable';
  let move: Move;
  try {
    move = chess.move(text, { strict: true });
  } catch {
    // Legal but not as SAN would write it (e.g. `Nge2` where `Ne2` is unambiguous).
    return lenientlyLegal(chess, text) ? 'nonstandard-notation' : 'illegal-move';
  }
  if (stripCheck(move.san) !== stripCheck(text)) {
    chess.undo();
    return 'nonstandard-notation';
  }
  return move;
}

/** Whether chess.js's permissive parser would play `text` (tried and undone). */
function lenientlyLegal(chess: Chess, text: string): boolean {
  try {
    chess.move(text);
  } catch {
    return false;
  }
  chess.undo();
  return true;
}

function stripCheck(san: string): string {
  return san.replace(/[+#]$/, '');
}

/**
 * The SAN of a move given in UCI long algebraic form (`e2e4`, `e7e8q`), as engines answer; null when
 * it is not legal in the position. Plays the move on `chess` when legal.
 */
export function playUci(chess: Chess, uci: string): Move | null {
  const match = /^([a-h][1-8])([a-h][1-8])([qrbn])?$/.exec(uci);
  if (!match) return null;
  try {
    return chess.move({ from: match[1], to: match[2], promotion: match[3] });
  } catch {
    return null;
  }
}

/** The UCI long algebraic form of a played move (`e2e4`, `e7e8q`). */
export function uciOfMove(move: Move): string {
  return move.from + move.to + (move.promotion ?? '');
}
