/**
 * 64-square bitboards as two 32-bit halves, the arithmetic V8 does fastest (int32 in registers; BigInt
 * would allocate on every operation). `lo` holds squares 0..31 (rows 1-4), `hi` squares 32..63 (rows
 * 5-8); square s is bit (s & 31) of its half. Moving one row down is a shift by 8 that carries bits from
 * `lo` into `hi`; moving one column right is a shift by 1 that never needs the carry (see below).
 */

/** Every square except columns a and h: a flood through these cannot wrap around a row edge. */
const NOT_EDGE_COLUMNS = 0x7e7e7e7e;

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Index (0..31) of the lowest set bit of a non-zero 32-bit value. */
export function lowestBitIndex(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Squares of a (lo, hi) mask in ascending order. */
export function maskToSquares(lo: number, hi: number): number[] {
  const squares: number[] = [];
  while (lo !== 0) {
    squares.push(lowestBitIndex(lo));
    lo &= lo - 1;
  }
  while (hi !== 0) {
    squares.push(32 + lowestBitIndex(hi));
    hi &= hi - 1;
  }
  return squares;
}

/** Index of the k-th (0-based) set bit of a (lo, hi) mask, counted from square 0; k < popcount. */
export function nthSetSquare(lo: number, hi: number, k: number): number {
  const lowCount = popcount32(lo);
  let x = lo;
  let base = 0;
  if (k >= lowCount) {
    k -= lowCount;
    x = hi;
    base = 32;
  }
  for (; k > 0; k--) x &= x - 1;
  return base + lowestBitIndex(x);
}

/**
 * Legal moves for the player owning `p*` against the opponent `o*`: the empty squares from which a line
 * of opponent discs runs, in one of the 8 directions, up to one of the player's discs. Computed for all
 * squares at once by flooding from the player's discs through opponent discs ("dumb7fill": 6 steps
 * cover the longest possible run) and shifting one more step onto an empty square.
 *
 * For the directions with a column component the flood only passes through opponent discs in columns
 * b..g, so a shift by 1, 7 or 9 can never carry a disc across a row edge. For the same reason the
 * shift by 1 needs no carry between the halves: bit 31 (h4) would land on a5, which is column a.
 *
 * Writes the mask to out[0] (lo) and out[1] (hi).
 */
export function legalMoveMask(pLo: number, pHi: number, oLo: number, oHi: number, out: Int32Array): void {
  const emptyLo = ~(pLo | oLo);
  const emptyHi = ~(pHi | oHi);
  const mLo = oLo & NOT_EDGE_COLUMNS;
  const mHi = oHi & NOT_EDGE_COLUMNS;
  let movesLo = 0;
  let movesHi = 0;
  let tLo: number;
  let tHi: number;

  // +1: one column right (no carry between halves, see above).
  tLo = mLo & (pLo << 1);
  tHi = mHi & (pHi << 1);
  tLo |= mLo & (tLo << 1);
  tHi |= mHi & (tHi << 1);
  tLo |= mLo & (tLo << 1);
  tHi |= mHi & (tHi << 1);
  tLo |= mLo & (tLo << 1);
  tHi |= mHi & (tHi << 1);
  tLo |= mLo & (tLo << 1);
  tHi |= mHi & (tHi << 1);
  tLo |= mLo & (tLo << 1);
  tHi |= mHi & (tHi << 1);
  movesLo |= tLo << 1;
  movesHi |= tHi << 1;

  // -1: one column left.
  tLo = mLo & (pLo >>> 1);
  tHi = mHi & (pHi >>> 1);
  tLo |= mLo & (tLo >>> 1);
  tHi |= mHi & (tHi >>> 1);
  tLo |= mLo & (tLo >>> 1);
  tHi |= mHi & (tHi >>> 1);
  tLo |= mLo & (tLo >>> 1);
  tHi |= mHi & (tHi >>> 1);
  tLo |= mLo & (tLo >>> 1);
  tHi |= mHi & (tHi >>> 1);
  tLo |= mLo & (tLo >>> 1);
  tHi |= mHi & (tHi >>> 1);
  movesLo |= tLo >>> 1;
  movesHi |= tHi >>> 1;

  // +8: one row down, through all opponent discs (no wrap is possible vertically).
  tLo = oLo & (pLo << 8);
  tHi = oHi & ((pHi << 8) | (pLo >>> 24));
  tHi |= oHi & ((tHi << 8) | (tLo >>> 24));
  tLo |= oLo & (tLo << 8);
  tHi |= oHi & ((tHi << 8) | (tLo >>> 24));
  tLo |= oLo & (tLo << 8);
  tHi |= oHi & ((tHi << 8) | (tLo >>> 24));
  tLo |= oLo & (tLo << 8);
  tHi |= oHi & ((tHi << 8) | (tLo >>> 24));
  tLo |= oLo & (tLo << 8);
  tHi |= oHi & ((tHi << 8) | (tLo >>> 24));
  tLo |= oLo & (tLo << 8);
  movesHi |= (tHi << 8) | (tLo >>> 24);
  movesLo |= tLo << 8;

  // -8: one row up.
  tHi = oHi & (pHi >>> 8);
  tLo = oLo & ((pLo >>> 8) | (pHi << 24));
  tLo |= oLo & ((tLo >>> 8) | (tHi << 24));
  tHi |= oHi & (tHi >>> 8);
  tLo |= oLo & ((tLo >>> 8) | (tHi << 24));
  tHi |= oHi & (tHi >>> 8);
  tLo |= oLo & ((tLo >>> 8) | (tHi << 24));
  tHi |= oHi & (tHi >>> 8);
  tLo |= oLo & ((tLo >>> 8) | (tHi << 24));
  tHi |= oHi & (tHi >>> 8);
  tLo |= oLo & ((tLo >>> 8) | (tHi << 24));
  tHi |= oHi & (tHi >>> 8);
  movesLo |= (tLo >>> 8) | (tHi << 24);
  movesHi |= tHi >>> 8;

  // +9: down and right.
  tLo = mLo & (pLo << 9);
  tHi = mHi & ((pHi << 9) | (pLo >>> 23));
  tHi |= mHi & ((tHi << 9) | (tLo >>> 23));
  tLo |= mLo & (tLo << 9);
  tHi |= mHi & ((tHi << 9) | (tLo >>> 23));
  tLo |= mLo & (tLo << 9);
  tHi |= mHi & ((tHi << 9) | (tLo >>> 23));
  tLo |= mLo & (tLo << 9);
  tHi |= mHi & ((tHi << 9) | (tLo >>> 23));
  tLo |= mLo & (tLo << 9);
  tHi |= mHi & ((tHi << 9) | (tLo >>> 23));
  tLo |= mLo & (tLo << 9);
  movesHi |= (tHi << 9) | (tLo >>> 23);
  movesLo |= tLo << 9;

  // -9: up and left.
  tHi = mHi & (pHi >>> 9);
  tLo = mLo & ((pLo >>> 9) | (pHi << 23));
  tLo |= mLo & ((tLo >>> 9) | (tHi << 23));
  tHi |= mHi & (tHi >>> 9);
  tLo |= mLo & ((tLo >>> 9) | (tHi << 23));
  tHi |= mHi & (tHi >>> 9);
  tLo |= mLo & ((tLo >>> 9) | (tHi << 23));
  tHi |= mHi & (tHi >>> 9);
  tLo |= mLo & ((tLo >>> 9) | (tHi << 23));
  tHi |= mHi & (tHi >>> 9);
  tLo |= mLo & ((tLo >>> 9) | (tHi << 23));
  tHi |= mHi & (tHi >>> 9);
  movesLo |= (tLo >>> 9) | (tHi << 23);
  movesHi |= tHi >>> 9;

  // +7: down and left.
  tLo = mLo & (pLo << 7);
  tHi = mHi & ((pHi << 7) | (pLo >>> 25));
  tHi |= mHi & ((tHi << 7) | (tLo >>> 25));
  tLo |= mLo & (tLo << 7);
  tHi |= mHi & ((tHi << 7) | (tLo >>> 25));
  tLo |= mLo & (tLo << 7);
  tHi |= mHi & ((tHi << 7) | (tLo >>> 25));
  tLo |= mLo & (tLo << 7);
  tHi |= mHi & ((tHi << 7) | (tLo >>> 25));
  tLo |= mLo & (tLo << 7);
  tHi |= mHi & ((tHi << 7) | (tLo >>> 25));
  tLo |= mLo & (tLo << 7);
  movesHi |= (tHi << 7) | (tLo >>> 25);
  movesLo |= tLo << 7;

  // -7: up and right.
  tHi = mHi & (pHi >>> 7);
  tLo = mLo & ((pLo >>> 7) | (pHi << 25));
  tLo |= mLo & ((tLo >>> 7) | (tHi << 25));
  tHi |= mHi & (tHi >>> 7);
  tLo |= mLo & ((tLo >>> 7) | (tHi << 25));
  tHi |= mHi & (tHi >>> 7);
  tLo |= mLo & ((tLo >>> 7) | (tHi << 25));
  tHi |= mHi & (tHi >>> 7);
  tLo |= mLo & ((tLo >>> 7) | (tHi << 25));
  tHi |= mHi & (tHi >>> 7);
  tLo |= mLo & ((tLo >>> 7) | (tHi << 25));
  tHi |= mHi & (tHi >>> 7);
  movesLo |= (tLo >>> 7) | (tHi << 25);
  movesHi |= tHi >>> 7;

  out[0] = movesLo & emptyLo;
  out[1] = movesHi & emptyHi;
}

/** The 8 directions as (row, column) steps: the first four lower the square index, the last four raise it. */
const DIRECTION_ROW_STEPS = [-1, -1, -1, 0, 0, 1, 1, 1];
const DIRECTION_COL_STEPS = [-1, 0, 1, -1, 1, -1, 0, 1];

/** RAY_LO/RAY_HI[sq * 8 + d]: the squares beyond sq in direction d up to the board edge, as a mask. */
const RAY_LO = new Int32Array(64 * 8);
const RAY_HI = new Int32Array(64 * 8);
for (let sq = 0; sq < 64; sq++) {
  for (let d = 0; d < 8; d++) {
    let row = (sq >> 3) + DIRECTION_ROW_STEPS[d];
    let col = (sq & 7) + DIRECTION_COL_STEPS[d];
    while (row >= 0 && row < 8 && col >= 0 && col < 8) {
      const s = row * 8 + col;
      if (s < 32) RAY_LO[sq * 8 + d] |= 1 << s;
      else RAY_HI[sq * 8 + d] |= 1 << s;
      row += DIRECTION_ROW_STEPS[d];
      col += DIRECTION_COL_STEPS[d];
    }
  }
}

/**
 * The opponent discs that a move on `sq` by the player `p*` would flip, written to out[0] (lo) and
 * out[1] (hi); returns how many. Along each ray, the player's nearest disc is the lowest set bit of
 * (ray & p) for rays that raise the square index and the highest for rays that lower it; the squares of
 * the ray before that disc flip if they are all opponent discs (and there is at least one). No loops
 * over squares and few branches: this runs once per move of every generated game.
 */
export function flipMask(sq: number, pLo: number, pHi: number, oLo: number, oHi: number, out: Int32Array): number {
  let flipsLo = 0;
  let flipsHi = 0;
  const rays = sq << 3;
  // Rays towards lower squares: nearest own disc = highest set bit; flip the ray strictly above it.
  for (let d = 0; d < 4; d++) {
    const rayLo = RAY_LO[rays + d];
    const rayHi = RAY_HI[rays + d];
    const ownHi = rayHi & pHi;
    let betweenLo: number;
    let betweenHi: number;
    if (ownHi !== 0) {
      const nearest = 1 << (31 - Math.clz32(ownHi));
      betweenLo = 0;
      betweenHi = rayHi & -(nearest << 1);
    } else {
      const ownLo = rayLo & pLo;
      if (ownLo === 0) continue;
      const nearest = 1 << (31 - Math.clz32(ownLo));
      betweenLo = rayLo & -(nearest << 1);
      betweenHi = rayHi;
    }
    if ((betweenLo | betweenHi) !== 0 && ((betweenLo & ~oLo) | (betweenHi & ~oHi)) === 0) {
      flipsLo |= betweenLo;
      flipsHi |= betweenHi;
    }
  }
  // Rays towards higher squares: nearest own disc = lowest set bit; flip the ray below it.
  for (let d = 4; d < 8; d++) {
    const rayLo = RAY_LO[rays + d];
    const rayHi = RAY_HI[rays + d];
    const ownLo = rayLo & pLo;
    let betweenLo: number;
    let betweenHi: number;
    if (ownLo !== 0) {
      betweenLo = rayLo & ((ownLo & -ownLo) - 1);
      betweenHi = 0;
    } else {
      const ownHi = rayHi & pHi;
      if (ownHi === 0) continue;
      betweenLo = rayLo;
      betweenHi = rayHi & ((ownHi & -ownHi) - 1);
    }
    if ((betweenLo | betweenHi) !== 0 && ((betweenLo & ~oLo) | (betweenHi & ~oHi)) === 0) {
      flipsLo |= betweenLo;
      flipsHi |= betweenHi;
    }
  }
  out[0] = flipsLo;
  out[1] = flipsHi;
  return popcount32(flipsLo) + popcount32(flipsHi);
}
