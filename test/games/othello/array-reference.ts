/**
 * A deliberately plain Othello engine for cross-checking the bitboard one: a 64-entry array, and every
 * rule written out as a walk over the 8 directions with row/column bounds checks. Slow and obvious.
 */
export const EMPTY = 0;
export const BLACK = 1;
export const WHITE = 2;

const DIRECTIONS: [number, number][] = [
  [-1, -1], [-1, 0], [-1, 1],
  [0, -1], [0, 1],
  [1, -1], [1, 0], [1, 1],
];

export class ArrayOthello {
  cells: number[] = new Array(64).fill(EMPTY);
  /** BLACK or WHITE: the colour whose turn it is (after passes). */
  turn = BLACK;
  passes = 0;

  constructor() {
    this.cells[3 * 8 + 3] = WHITE; // d4
    this.cells[4 * 8 + 4] = WHITE; // e5
    this.cells[3 * 8 + 4] = BLACK; // e4
    this.cells[4 * 8 + 3] = BLACK; // d5
  }

  /** Squares that a move on sq by `colour` would flip, ascending. */
  flips(sq: number, colour: number): number[] {
    if (this.cells[sq] !== EMPTY) return [];
    const opponent = colour === BLACK ? WHITE : BLACK;
    const row = Math.floor(sq / 8);
    const col = sq % 8;
    const result: number[] = [];
    for (const [dr, dc] of DIRECTIONS) {
      const line: number[] = [];
      let r = row + dr;
      let c = col + dc;
      while (r >= 0 && r < 8 && c >= 0 && c < 8 && this.cells[r * 8 + c] === opponent) {
        line.push(r * 8 + c);
        r += dr;
        c += dc;
      }
      if (line.length > 0 && r >= 0 && r < 8 && c >= 0 && c < 8 && this.cells[r * 8 + c] === colour) {
        result.push(...line);
      }
    }
    return result.sort((a, b) => a - b);
  }

  legalMoves(colour = this.turn): number[] {
    const moves: number[] = [];
    for (let sq = 0; sq < 64; sq++) if (this.flips(sq, colour).length > 0) moves.push(sq);
    return moves;
  }

  isOver(): boolean {
    return this.legalMoves(BLACK).length === 0 && this.legalMoves(WHITE).length === 0;
  }

  /** Plays for the colour to move; returns the flipped squares and whether the opponent then had to pass. */
  play(sq: number): { flipped: number[]; passed: boolean } {
    const flipped = this.flips(sq, this.turn);
    if (flipped.length === 0) throw new Error(`reference: illegal move ${sq}`);
    this.cells[sq] = this.turn;
    for (const s of flipped) this.cells[s] = this.turn;
    const opponent = this.turn === BLACK ? WHITE : BLACK;
    let passed = false;
    if (this.legalMoves(opponent).length > 0) {
      this.turn = opponent;
    } else if (this.legalMoves(this.turn).length > 0) {
      passed = true;
      this.passes++;
    }
    return { flipped, passed };
  }

  count(colour: number): number {
    return this.cells.filter((c) => c === colour).length;
  }
}
