/**
 * Random chess games: every move uniform over the legal moves, until the game is over (mate, stalemate,
 * threefold repetition, the fifty-move rule, insufficient material) or its string fills a record.
 *
 * chess.js's public `moves()` spells every legal move in SAN before one is picked, which made this
 * about 2,000 plies/s; the hot loop below uses chess.js's internal move list and spells only the chosen
 * move (about 9,000 plies/s). Those internals are not part of its API, so a chess.js without them
 * falls back to the public calls (same games, same rng draws, only slower).
 */
import { Chess } from 'chess.js';
import type { Rng } from '../../src/util/rng.js';
import { CHESS_BLOCK_LENGTH } from './vocabulary.js';

interface ChessInternals {
  _moves(options: { legal: boolean }): unknown[];
  _moveToSan(move: unknown, moves: unknown[]): string;
  _makeMove(move: unknown): void;
}

const internals = (chess: Chess): ChessInternals | null => {
  const c = chess as unknown as Partial<ChessInternals>;
  return typeof c._moves === 'function' && typeof c._moveToSan === 'function' && typeof c._makeMove === 'function' ? (c as ChessInternals) : null;
};

/** True when the position on `chess` ends the game by rule (given the side to move has a legal move). */
function drawnByRule(chess: Chess): boolean {
  return chess.isInsufficientMaterial() || chess.isThreefoldRepetition() || chess.isDrawByFiftyMoves();
}

/**
 * The SAN moves of one random game whose string (`;1.e4 e5 ...`) stays within `maxChars` characters.
 * Moves are drawn from the legal moves in chess.js's generation order with `rng.nextInt`.
 */
export function randomChessGame(rng: Rng, maxChars = CHESS_BLOCK_LENGTH, chess = new Chess()): string[] {
  chess.reset();
  const fast = internals(chess);
  const sans: string[] = [];
  let chars = 1;
  for (;;) {
    const ply = sans.length;
    // Characters this ply adds: the space before it, the move number on White's moves, the SAN.
    const overhead = (ply === 0 ? 0 : 1) + (ply % 2 === 0 ? String(ply / 2 + 1).length + 1 : 0);
    let san: string;
    if (fast) {
      const moves = fast._moves({ legal: true });
      if (moves.length === 0 || drawnByRule(chess)) break;
      const move = moves[rng.nextInt(moves.length)];
      san = fast._moveToSan(move, moves);
      if (chars + overhead + san.length > maxChars) break;
      fast._makeMove(move);
    } else {
      const moves = chess.moves();
      if (moves.length === 0 || drawnByRule(chess)) break;
      san = moves[rng.nextInt(moves.length)];
      if (chars + overhead + san.length > maxChars) break;
      chess.move(san);
    }
    chars += overhead + san.length;
    sans.push(san);
  }
  return sans;
}
