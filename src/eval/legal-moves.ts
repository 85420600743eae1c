/**
 * Top-1 legal-move rate, the Othello-GPT metric: for every prefix of every held-out game, is the
 * model's most likely next token a legal move in the position after that prefix?
 *
 * Prefix t (the first t moves, t = 1..n for a game of n moves) is read at the model's position t-1.
 * Positions where the game is over (after the last move of a finished game) have no legal move and are
 * left out, so a finished game of n moves contributes n-1 positions. Padding (token 0) is never legal.
 */
import { OthelloBoard } from '../../games/othello/board.js';
import { PAD_TOKEN, TOKEN_TO_SQUARE } from '../../games/othello/notation.js';

/** The one thing this metric needs from a model: next-token logits for whole sequences. */
export interface NextTokenModel {
  /** logits: (batch, length, vocab) for inputs (batch, length). */
  logits(inputs: Int32Array, batch: number, length: number): Promise<Float32Array>;
}

export interface MoveNumberRate {
  /** Moves played in the prefix (1 = after the first move). */
  move: number;
  positions: number;
  legalTop1: number;
}

export interface LegalMoveReport {
  legalTop1: number;
  positions: number;
  games: number;
  byMove: MoveNumberRate[];
}

export interface LegalMoveOptions {
  /** Games per forward pass. */
  batch?: number;
  /** Called after each batch with the number of games scored so far. */
  onProgress?: (gamesDone: number) => void;
}

/**
 * Scores `games` (count * recordLength tokens, 0-padded Othello records) with `model`. The model sees
 * tokens 0..recordLength-2, as in training.
 */
export async function legalMoveRate(
  model: NextTokenModel,
  vocabSize: number,
  games: Uint8Array,
  recordLength: number,
  options: LegalMoveOptions = {},
): Promise<LegalMoveReport> {
  const count = games.length / recordLength;
  const L = recordLength - 1;
  const batch = options.batch ?? 64;
  const legalByMove = new Float64Array(L + 1);
  const positionsByMove = new Float64Array(L + 1);
  const board = OthelloBoard.initial();
  for (let start = 0; start < count; start += batch) {
    const B = Math.min(batch, count - start);
    // inputs: (B, L)
    const inputs = new Int32Array(B * L);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) inputs[b * L + t] = games[(start + b) * recordLength + t];
    }
    // logits: (B, L, V)
    const logits = await model.logits(inputs, B, L);
    for (let b = 0; b < B; b++) {
      board.reset();
      for (let t = 0; t < L; t++) {
        const token = inputs[b * L + t];
        if (token === PAD_TOKEN) break;
        board.play(TOKEN_TO_SQUARE[token]);
        if (board.isOver()) break;
        const predicted = argmax(logits, (b * L + t) * vocabSize, vocabSize);
        const legal = predicted !== PAD_TOKEN && predicted < TOKEN_TO_SQUARE.length && board.isLegal(TOKEN_TO_SQUARE[predicted]);
        positionsByMove[t + 1]++;
        if (legal) legalByMove[t + 1]++;
      }
    }
    options.onProgress?.(start + B);
  }
  let legal = 0;
  let positions = 0;
  const byMove: MoveNumberRate[] = [];
  for (let move = 1; move <= L; move++) {
    legal += legalByMove[move];
    positions += positionsByMove[move];
    if (positionsByMove[move] > 0) {
      byMove.push({ move, positions: positionsByMove[move], legalTop1: legalByMove[move] / positionsByMove[move] });
    }
  }
  return { legalTop1: positions > 0 ? legal / positions : 0, positions, games: count, byMove };
}

/** Index of the largest of values[offset .. offset+n-1] (the first one on ties). */
function argmax(values: Float32Array, offset: number, n: number): number {
  let best = 0;
  let bestValue = values[offset];
  for (let i = 1; i < n; i++) {
    if (values[offset + i] > bestValue) {
      bestValue = values[offset + i];
      best = i;
    }
  }
  return best;
}
