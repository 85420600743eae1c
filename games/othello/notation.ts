/**
 * Othello squares, names and tokens.
 *
 * Square index = row * 8 + col, with columns a..h and rows 1..8: a1 = 0 (top-left), h1 = 7, a2 = 8,
 * h8 = 63. Tokens follow the Othello-GPT vocabulary: the 60 playable squares (all but the four centre
 * squares d4 e4 d5 e5, which start occupied) get ids 1..60 in ascending square order; 0 is padding.
 */
import { UserError } from '../../src/util/errors.js';

export const VOCAB_SIZE = 61;
export const PAD_TOKEN = 0;
/** At most 60 moves: one per playable square (passes are silent and take no token). */
export const MAX_MOVES = 60;

const CENTRE_SQUARES = [27, 28, 35, 36]; // d4 e4 d5 e5

/** token (0..60) -> square; entry 0 is -1 (padding has no square). */
export const TOKEN_TO_SQUARE = new Int8Array(VOCAB_SIZE);
/** square (0..63) -> token (1..60); the centre squares hold 0. */
export const SQUARE_TO_TOKEN = new Uint8Array(64);

TOKEN_TO_SQUARE[0] = -1;
for (let sq = 0, token = 1; sq < 64; sq++) {
  if (CENTRE_SQUARES.includes(sq)) continue;
  SQUARE_TO_TOKEN[sq] = token;
  TOKEN_TO_SQUARE[token] = sq;
  token++;
}

function checkSquareIndex(sq: number): void {
  if (!Number.isInteger(sq) || sq < 0 || sq > 63) throw new RangeError(`not an Othello square index: ${sq} (expected 0..63)`);
}

/** 'a1' for 0, 'h8' for 63. */
export function squareName(sq: number): string {
  checkSquareIndex(sq);
  return String.fromCharCode(97 + (sq & 7)) + String((sq >> 3) + 1);
}

/** 'a1' -> 0. Accepts upper-case columns ('F5'); anything else is a UserError naming the text. */
export function parseSquare(name: string): number {
  const match = /^([a-hA-H])([1-8])$/.exec(name);
  if (!match) throw new UserError(`not an Othello square: ${JSON.stringify(name)} (expected a column a-h and a row 1-8, e.g. f5)`);
  const col = match[1].toLowerCase().charCodeAt(0) - 97;
  const row = Number(match[2]) - 1;
  return row * 8 + col;
}

/** Square -> token id 1..60. The centre squares d4 e4 d5 e5 are never played and have no token. */
export function tokenOfSquare(sq: number): number {
  checkSquareIndex(sq);
  const token = SQUARE_TO_TOKEN[sq];
  if (token === 0) throw new RangeError(`square ${squareName(sq)} is a centre square and has no token`);
  return token;
}

/** Token id 1..60 -> square. 0 is padding and not a move. */
export function squareOfToken(token: number): number {
  if (!Number.isInteger(token) || token < 1 || token >= VOCAB_SIZE) {
    throw new RangeError(`not an Othello move token: ${token} (expected 1..${VOCAB_SIZE - 1}; 0 is padding)`);
  }
  return TOKEN_TO_SQUARE[token];
}
