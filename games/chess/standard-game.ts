/**
 * Which PGN games become training data: standard chess from the initial position, every move legal and
 * written in SAN. Everything else is refused with one reason from a fixed list, so an import can report
 * honest counts of what it skipped and why.
 */
import { Chess } from 'chess.js';
import type { PgnGame } from './pgn.js';
import { STANDARD_START_FEN, playSan } from './san.js';

export const SKIP_REASONS = [
  'fen-setup',
  'variant',
  'unparsable',
  'no-moves',
  'null-move',
  'nonstandard-notation',
  'illegal-move',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type StandardGame = { ok: true; sans: string[] } | { ok: false; reason: SkipReason; detail: string };

/** Variant tags that still mean standard chess (lichess writes `Standard`, some tools `chess`). */
const STANDARD_VARIANTS = new Set(['standard', 'chess', 'normal', '']);

/** The canonical SAN moves of `game` if it is standard chess from the start position, else why not. */
export function standardGameOf(game: PgnGame): StandardGame {
  const variant = game.headers.Variant;
  if (variant !== undefined && !STANDARD_VARIANTS.has(variant.trim().toLowerCase())) {
    return { ok: false, reason: 'variant', detail: `Variant "${variant}"` };
  }
  const fen = game.headers.FEN;
  if (fen !== undefined && fen.trim() !== STANDARD_START_FEN) return { ok: false, reason: 'fen-setup', detail: `FEN "${fen}"` };
  if (fen === undefined && game.headers.SetUp === '1') return { ok: false, reason: 'fen-setup', detail: 'SetUp "1" without a FEN tag' };
  if (game.syntaxError !== null) return { ok: false, reason: 'unparsable', detail: game.syntaxError };
  if (game.moves.length === 0) return { ok: false, reason: 'no-moves', detail: 'no moves in the main line' };
  const chess = new Chess();
  const sans: string[] = [];
  for (let ply = 0; ply < game.moves.length; ply++) {
    const text = game.moves[ply];
    const move = playSan(chess, text);
    if (typeof move === 'string') {
      return { ok: false, reason: move, detail: `ply ${ply + 1}: ${JSON.stringify(text)} in ${chess.fen()}` };
    }
    sans.push(move.san);
  }
  return { ok: true, sans };
}
