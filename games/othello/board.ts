/**
 * An Othello position on bitboards (see bitboard.ts), with the rules: legal moves, flips, silent forced
 * passes, game over, score.
 *
 * The discs are stored relative to the player to move (`own*`, `other*`), so a move is the same
 * arithmetic for either colour and a turn change is a swap. The legal moves of the player to move are
 * kept up to date after every play: computing them is also how a forced pass is detected, and the next
 * move needs them anyway.
 */
import { flipMask, legalMoveMask, maskToSquares, nthSetSquare, popcount32 } from './bitboard.js';
import { squareName } from './notation.js';

export const BLACK = 0;
export const WHITE = 1;
/** cellAt values. */
export const EMPTY_CELL = 0;
export const BLACK_CELL = 1;
export const WHITE_CELL = 2;

// Shared scratch for the two-word results of the bitboard functions (no allocation per move).
const scratch = new Int32Array(2);

export class OthelloBoard {
  /** Discs of the player to move. */
  private ownLo = 0;
  private ownHi = 0;
  /** Discs of the other player. */
  private otherLo = 0;
  private otherHi = 0;
  private mover: 0 | 1 = BLACK;
  /** Legal moves of the player to move; both zero once the game is over. */
  legalLo = 0;
  legalHi = 0;
  /** Discs flipped by the last play (empty before the first). */
  flippedLo = 0;
  flippedHi = 0;
  /** Square of the last play, -1 before the first. */
  lastMove = -1;
  /** Colour that made the last play, -1 before the first. */
  lastMover: -1 | 0 | 1 = -1;
  /** True when, after the last play, the opponent had no legal move and the turn passed back. */
  passed = false;

  /** The start position: d4 and e5 white, e4 and d5 black, black to move. */
  static initial(): OthelloBoard {
    const board = new OthelloBoard();
    board.reset();
    return board;
  }

  /**
   * A position from 64 cells (0 empty, 1 black, 2 white) in square order and the colour to move. If
   * that colour has no legal move but the other has, the turn passes, as it would in play.
   */
  static fromCells(cells: ArrayLike<number>, toMove: 0 | 1): OthelloBoard {
    if (cells.length !== 64) throw new RangeError(`expected 64 cells, got ${cells.length}`);
    let blackLo = 0;
    let blackHi = 0;
    let whiteLo = 0;
    let whiteHi = 0;
    for (let sq = 0; sq < 64; sq++) {
      const cell = cells[sq];
      if (cell === BLACK_CELL) {
        if (sq < 32) blackLo |= 1 << sq;
        else blackHi |= 1 << sq;
      } else if (cell === WHITE_CELL) {
        if (sq < 32) whiteLo |= 1 << sq;
        else whiteHi |= 1 << sq;
      } else if (cell !== EMPTY_CELL) {
        throw new RangeError(`cell ${squareName(sq)} is ${cell}; expected 0 (empty), 1 (black) or 2 (white)`);
      }
    }
    const board = new OthelloBoard();
    board.mover = toMove;
    if (toMove === BLACK) board.setDiscs(blackLo, blackHi, whiteLo, whiteHi);
    else board.setDiscs(whiteLo, whiteHi, blackLo, blackHi);
    board.passed = false;
    return board;
  }

  /** Back to the start position, in place. */
  reset(): void {
    this.mover = BLACK;
    // Black: e4 (28), d5 (35). White: d4 (27), e5 (36).
    this.ownLo = 1 << 28;
    this.ownHi = 1 << (35 - 32);
    this.otherLo = 1 << 27;
    this.otherHi = 1 << (36 - 32);
    // Black's four opening moves: d3 (19), c4 (26), f5 (37), e6 (44).
    this.legalLo = (1 << 19) | (1 << 26);
    this.legalHi = (1 << (37 - 32)) | (1 << (44 - 32));
    this.flippedLo = 0;
    this.flippedHi = 0;
    this.lastMove = -1;
    this.lastMover = -1;
    this.passed = false;
  }

  clone(): OthelloBoard {
    const board = new OthelloBoard();
    board.copyFrom(this);
    return board;
  }

  /** Becomes a copy of `source`, in place (for search without allocation). */
  copyFrom(source: OthelloBoard): void {
    this.ownLo = source.ownLo;
    this.ownHi = source.ownHi;
    this.otherLo = source.otherLo;
    this.otherHi = source.otherHi;
    this.mover = source.mover;
    this.legalLo = source.legalLo;
    this.legalHi = source.legalHi;
    this.flippedLo = source.flippedLo;
    this.flippedHi = source.flippedHi;
    this.lastMove = source.lastMove;
    this.lastMover = source.lastMover;
    this.passed = source.passed;
  }

  /**
   * The colour that moves next (0 black, 1 white); after a forced pass, the player who really moves.
   * Once the game is over: the opponent of the last mover.
   */
  get toMove(): 0 | 1 {
    return this.mover;
  }

  /** Legal squares for the player to move, ascending; empty once the game is over. */
  legalMoves(): number[] {
    return maskToSquares(this.legalLo, this.legalHi);
  }

  legalMoveCount(): number {
    return popcount32(this.legalLo) + popcount32(this.legalHi);
  }

  /** The k-th legal move (0-based, in ascending square order), for k < legalMoveCount(). */
  nthLegalMove(k: number): number {
    return nthSetSquare(this.legalLo, this.legalHi, k);
  }

  isLegal(sq: number): boolean {
    if (!Number.isInteger(sq) || sq < 0 || sq > 63) return false;
    return (((sq < 32 ? this.legalLo : this.legalHi) >>> sq) & 1) !== 0;
  }

  /** How many discs a move on `sq` would flip for the player to move (0 if it is not legal). */
  flipCount(sq: number): number {
    if (!this.isLegal(sq)) return 0;
    return flipMask(sq, this.ownLo, this.ownHi, this.otherLo, this.otherHi, scratch);
  }

  /**
   * Plays `sq` for the player to move: places the disc, flips, hands the turn over, and if the opponent
   * then has no legal move passes it straight back (`passed`), unless neither can move (game over).
   */
  play(sq: number): void {
    if (!this.isLegal(sq)) {
      const who = this.mover === BLACK ? 'black' : 'white';
      const where = Number.isInteger(sq) && sq >= 0 && sq < 64 ? squareName(sq) : String(sq);
      throw new RangeError(`illegal Othello move ${where} for ${who}${this.isOver() ? ' (the game is over)' : ''}`);
    }
    flipMask(sq, this.ownLo, this.ownHi, this.otherLo, this.otherHi, scratch);
    const flippedLo = scratch[0];
    const flippedHi = scratch[1];
    this.flippedLo = flippedLo;
    this.flippedHi = flippedHi;
    this.lastMove = sq;
    this.lastMover = this.mover;
    const placedLo = sq < 32 ? 1 << sq : 0;
    const placedHi = sq < 32 ? 0 : 1 << sq;
    // The opponent moves next: swap sides while applying the move.
    this.mover = (this.mover ^ 1) as 0 | 1;
    this.setDiscs(this.otherLo & ~flippedLo, this.otherHi & ~flippedHi, this.ownLo | flippedLo | placedLo, this.ownHi | flippedHi | placedHi);
  }

  /**
   * Installs the discs of the player to move and of the other player and computes the legal moves,
   * passing the turn if the player to move has none but the other has.
   */
  private setDiscs(ownLo: number, ownHi: number, otherLo: number, otherHi: number): void {
    legalMoveMask(ownLo, ownHi, otherLo, otherHi, scratch);
    if ((scratch[0] | scratch[1]) !== 0) {
      this.ownLo = ownLo;
      this.ownHi = ownHi;
      this.otherLo = otherLo;
      this.otherHi = otherHi;
      this.legalLo = scratch[0];
      this.legalHi = scratch[1];
      this.passed = false;
      return;
    }
    legalMoveMask(otherLo, otherHi, ownLo, ownHi, scratch);
    const canMove = (scratch[0] | scratch[1]) !== 0;
    this.passed = canMove;
    this.legalLo = scratch[0];
    this.legalHi = scratch[1];
    if (canMove) {
      // Forced pass: the other player moves again.
      this.mover = (this.mover ^ 1) as 0 | 1;
      this.ownLo = otherLo;
      this.ownHi = otherHi;
      this.otherLo = ownLo;
      this.otherHi = ownHi;
    } else {
      // Game over: the turn stays with the opponent of the last mover; legal moves stay empty.
      this.ownLo = ownLo;
      this.ownHi = ownHi;
      this.otherLo = otherLo;
      this.otherHi = otherHi;
    }
  }

  /** Neither player has a legal move. */
  isOver(): boolean {
    return (this.legalLo | this.legalHi) === 0;
  }

  /** 0 empty, 1 black, 2 white. */
  cellAt(sq: number): 0 | 1 | 2 {
    const bit = 1 << sq;
    const own = (sq < 32 ? this.ownLo : this.ownHi) & bit;
    const other = (sq < 32 ? this.otherLo : this.otherHi) & bit;
    if (own === 0 && other === 0) return EMPTY_CELL;
    const colour = own !== 0 ? this.mover : this.mover ^ 1;
    return colour === BLACK ? BLACK_CELL : WHITE_CELL;
  }

  /** Disc masks by colour: [blackLo, blackHi, whiteLo, whiteHi]. */
  colourMasks(): [number, number, number, number] {
    return this.mover === BLACK
      ? [this.ownLo, this.ownHi, this.otherLo, this.otherHi]
      : [this.otherLo, this.otherHi, this.ownLo, this.ownHi];
  }

  /** Squares flipped by the last play, ascending. */
  get lastFlipped(): number[] {
    return maskToSquares(this.flippedLo, this.flippedHi);
  }

  counts(): { black: number; white: number } {
    const own = popcount32(this.ownLo) + popcount32(this.ownHi);
    const other = popcount32(this.otherLo) + popcount32(this.otherHi);
    return this.mover === BLACK ? { black: own, white: other } : { black: other, white: own };
  }

  /** The colour with more discs (0 black, 1 white), null for a draw. Meaningful once the game is over. */
  winner(): 0 | 1 | null {
    const { black, white } = this.counts();
    return black > white ? BLACK : white > black ? WHITE : null;
  }

  /** Eight rows of `X` (black), `O` (white) and `.`, row 1 first. */
  toString(): string {
    const rows: string[] = [];
    for (let row = 0; row < 8; row++) {
      let line = '';
      for (let col = 0; col < 8; col++) line += '.XO'[this.cellAt(row * 8 + col)];
      rows.push(line);
    }
    return rows.join('\n');
  }
}
