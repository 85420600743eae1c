/**
 * The chess legal-move rate, the anchors' first-try legality without an engine: for every White and
 * Black move of held-out games, the model reads the game string up to that move (`;1.e4 e5 2.` or
 * `;1.e4 `), and its greedy move is what it predicts one character at a time until a space, as in
 * `gamba play`. Is that legal SAN in the game's position there? Overall and by full-move number (both
 * moves of move m count at m), and by side.
 *
 * Games are read side by side with the stateful step(), each once: where a game's move starts, the
 * state of the games at that point is forked (selectStepState), their greedy characters are read on
 * the fork together, and the games go on with their own moves. Moves past the model's context (a
 * transformer's positions) or past the record's inputs are not scored, as the training never saw them.
 */
import { Chess } from 'chess.js';
import { movesOfGameString } from '../../games/chess/game-string.js';
import { playSan } from '../../games/chess/san.js';
import { CHESS_CHARS, SPACE_TOKEN, decodeChessTokens } from '../../games/chess/vocabulary.js';
import type { LanguageModel, StepState } from '../model/language-model.js';
import { UserError } from '../util/errors.js';
import type { LegalMoveReport, MoveNumberRate } from './legal-moves.js';
import { MAX_TOKEN_CHARS } from './play-chess.js';
import { sampleToken } from './token-stepper.js';

export interface ChessLegalMoveReport extends LegalMoveReport {
  bySide: { white: { positions: number; legalTop1: number }; black: { positions: number; legalTop1: number } };
}

export interface ChessLegalMoveOptions {
  /** Games read side by side (default 64). */
  batch?: number;
  onProgress?: (gamesDone: number) => void;
  /** Sees every scored move: game, ply (0 = White's first), the greedy text and whether it is legal. */
  onMove?: (game: number, ply: number, text: string, legal: boolean) => void;
  /** Prefixes errors (dataset file and split). */
  where?: string;
}

interface GameToScore {
  sans: string[];
  /** Per scored ply, where its text starts: the prefix the model reads is text[0 .. start). */
  starts: number[];
  chess: Chess;
  /** Plies scored so far. */
  next: number;
}

/** Scores `games` (count * recordLength chess tokens) with `model`, which sees tokens 0..recordLength-2. */
export async function chessLegalMoveRate(model: LanguageModel, games: Uint8Array, recordLength: number, options: ChessLegalMoveOptions = {}): Promise<ChessLegalMoveReport> {
  const count = games.length / recordLength;
  const batch = options.batch ?? 64;
  const where = options.where ?? 'chess games';
  const V = model.config.vocab_size;
  // The latest a scored move may start: within the inputs the model was trained on, and with room for
  // the longest move in a transformer's context.
  const inputs = Math.min(recordLength - 1, model.contextLength - MAX_TOKEN_CHARS);
  const tally = new Map<number, { positions: number; legal: number }>();
  const side = { white: { positions: 0, legal: 0 }, black: { positions: 0, legal: 0 } };
  for (let g0 = 0; g0 < count; g0 += batch) {
    const B = Math.min(batch, count - g0);
    const chunk: GameToScore[] = [];
    for (let b = 0; b < B; b++) {
      const g = g0 + b;
      // Padding is the trailing run of spaces (a game string never ends with one).
      const text = decodeChessTokens(games.subarray(g * recordLength, (g + 1) * recordLength)).replace(/ +$/, '');
      let sans: string[];
      try {
        sans = movesOfGameString(text);
      } catch (error) {
        throw new UserError(`${where} game ${g}: ${(error as Error).message}`);
      }
      // The move's text starts after `N.` (White) or after the space (Black).
      const starts: number[] = [];
      for (let ply = 0, at = 1; ply < sans.length; ply++) {
        const start = ply % 2 === 0 ? text.indexOf('.', at) + 1 : at;
        if (start > inputs) break;
        starts.push(start);
        at = start + sans[ply].length + 1;
      }
      chunk.push({ sans, starts, chess: new Chess(), next: 0 });
    }
    const steps = Math.max(0, ...chunk.map((c) => c.starts[c.starts.length - 1] ?? 0));
    const state = model.newStepState(B);
    const tokens = new Int32Array(B);
    try {
      for (let t = 0; t < steps; t++) {
        for (let b = 0; b < B; b++) tokens[b] = games[(g0 + b) * recordLength + t];
        const logits = await model.step(state, tokens);
        // The games whose next move starts after token t: their greedy moves, read side by side.
        const active = chunk.flatMap((c, b) => (c.starts[c.next] === t + 1 ? [b] : []));
        if (active.length === 0) continue;
        const guesses = await greedyMoves(model, state, active, logits, V);
        active.forEach((b, i) => {
          const c = chunk[b];
          const ply = c.next++;
          const move = guesses[i] === '' ? 'unparsable' : playSan(c.chess, guesses[i]);
          const legal = typeof move !== 'string';
          if (legal) c.chess.undo();
          options.onMove?.(g0 + b, ply, guesses[i], legal);
          const number = Math.floor(ply / 2) + 1;
          let tl = tally.get(number);
          if (!tl) tally.set(number, (tl = { positions: 0, legal: 0 }));
          tl.positions++;
          const s = ply % 2 === 0 ? side.white : side.black;
          s.positions++;
          if (legal) {
            tl.legal++;
            s.legal++;
          }
          const played = playSan(c.chess, c.sans[ply]);
          if (typeof played === 'string') throw new UserError(`${where} game ${g0 + b}: ply ${ply + 1} (${c.sans[ply]}) is not legal SAN there (${played})`);
        });
      }
    } finally {
      model.disposeStepState(state);
    }
    options.onProgress?.(g0 + B);
  }
  const byMove: MoveNumberRate[] = [...tally.entries()].sort((a, b) => a[0] - b[0]).map(([move, t]) => ({ move, positions: t.positions, legalTop1: t.legal / t.positions }));
  const positions = side.white.positions + side.black.positions;
  const rate = (s: { positions: number; legal: number }) => ({ positions: s.positions, legalTop1: s.positions > 0 ? s.legal / s.positions : 0 });
  return {
    legalTop1: positions > 0 ? (side.white.legal + side.black.legal) / positions : 0,
    positions,
    games: count,
    byMove,
    bySide: { white: rate(side.white), black: rate(side.black) },
  };
}

/**
 * The greedy moves of sequences `rows` of `state`, whose next-token logits (all rows, (B, V)) are
 * given: characters until a space, at most MAX_TOKEN_CHARS, as play samples them at temperature 0,
 * read on a fork of the state so the game itself goes on unchanged.
 */
async function greedyMoves(model: LanguageModel, state: StepState, rows: number[], logits: Float32Array, V: number): Promise<string[]> {
  const texts = rows.map(() => '');
  const done = rows.map(() => false);
  let current: Float32Array = Float32Array.from(rows.flatMap((b) => Array.from(logits.subarray(b * V, (b + 1) * V))));
  const fork = model.selectStepState(state, rows);
  try {
    for (let k = 0; k < MAX_TOKEN_CHARS; k++) {
      const ids = new Int32Array(rows.length);
      rows.forEach((_, i) => {
        if (done[i]) return;
        // Temperature 0: the arg max, as play's greedy draw (the uniform source is never asked).
        const id = sampleToken(current.subarray(i * V, (i + 1) * V), 0, () => 0);
        if (id === SPACE_TOKEN) done[i] = true;
        else {
          texts[i] += CHESS_CHARS[id] ?? '?';
          ids[i] = id;
        }
      });
      if (done.every(Boolean) || k === MAX_TOKEN_CHARS - 1) break;
      current = await model.step(fork, ids);
    }
  } finally {
    model.disposeStepState(fork);
  }
  return texts;
}
