/**
 * The board symmetries of Othello that keep the opening position. The rules look the same from every one
 * of the board's eight symmetries, but only four of them map the four centre discs onto discs of the
 * same colour: the identity, the half turn and the reflections in the two diagonals. Each of those turns
 * a game into another legal game with the same passes and the same winner (its image), so a dataset of
 * games can be made four times as large without playing any more of them.
 */
import { PAD_TOKEN, SQUARE_TO_TOKEN, TOKEN_TO_SQUARE, VOCAB_SIZE } from './notation.js';

/** (row, column) -> (row, column) on the 8 x 8 board, rows and columns 0..7. */
type SquareMap = (row: number, col: number) => [number, number];

/** The symmetries that keep the opening position, by name; the identity first. */
export const OPENING_SYMMETRIES: readonly { name: string; square: SquareMap }[] = [
  { name: 'identity', square: (r, c) => [r, c] },
  { name: 'half turn', square: (r, c) => [7 - r, 7 - c] },
  { name: 'main diagonal (a1-h8)', square: (r, c) => [c, r] },
  { name: 'anti-diagonal (h1-a8)', square: (r, c) => [7 - c, 7 - r] },
];

/** For each symmetry, token -> token of the image square (padding stays padding). */
export const SYMMETRY_TOKEN_MAPS: readonly Uint8Array[] = OPENING_SYMMETRIES.map(({ square }) => {
  const map = new Uint8Array(VOCAB_SIZE);
  map[PAD_TOKEN] = PAD_TOKEN;
  for (let token = 1; token < VOCAB_SIZE; token++) {
    const sq = TOKEN_TO_SQUARE[token];
    const [row, col] = square(sq >> 3, sq & 7);
    map[token] = SQUARE_TO_TOKEN[row * 8 + col];
  }
  return map;
});

/**
 * Writes each of the `games` records of `records` followed by its images under the other opening
 * symmetries: OPENING_SYMMETRIES.length records per game, the game itself first.
 */
export function withSymmetricImages(records: Uint8Array, recordLength: number): Uint8Array {
  const games = records.length / recordLength;
  const copies = SYMMETRY_TOKEN_MAPS.length;
  const out = new Uint8Array(records.length * copies);
  for (let g = 0; g < games; g++) {
    const record = records.subarray(g * recordLength, (g + 1) * recordLength);
    SYMMETRY_TOKEN_MAPS.forEach((map, s) => {
      const row = (g * copies + s) * recordLength;
      for (let t = 0; t < recordLength; t++) out[row + t] = map[record[t]];
    });
  }
  return out;
}
