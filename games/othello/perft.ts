/**
 * Othello perft: the number of leaves of the game tree from the start position at each depth.
 * As in the published tables, a forced pass counts as one move (one ply) and a finished game is a leaf
 * at every depth from the ply where it ends, so counts are comparable with other engines.
 */
import { OthelloBoard } from './board.js';

/** counts[i] = leaves at depth i + 1, for depths 1..depth, from `root` (the start position by default). */
export function othelloPerft(depth: number, root: OthelloBoard = OthelloBoard.initial()): number[] {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`perft depth must be a positive integer, got ${depth}`);
  const counts = new Array<number>(depth).fill(0);
  if (root.isOver()) {
    counts.fill(1);
    return counts;
  }
  // One board per ply, reused: a child is a copy of its parent with one move played.
  const stack: OthelloBoard[] = [];
  for (let ply = 0; ply <= depth + 1; ply++) stack.push(new OthelloBoard());
  stack[0].copyFrom(root);
  expand(stack, 0, depth, counts);
  return counts;
}

/** Adds the subtree below `stack[ply]` (a position with a legal move, ply < depth) to counts. */
function expand(stack: OthelloBoard[], ply: number, depth: number, counts: number[]): void {
  const board = stack[ply];
  const moves = board.legalMoveCount();
  counts[ply] += moves;
  if (ply + 1 === depth) return;
  const child = stack[ply + 1];
  let legalLo = board.legalLo;
  let legalHi = board.legalHi;
  for (let k = 0; k < moves; k++) {
    let sq: number;
    if (legalLo !== 0) {
      sq = 31 - Math.clz32(legalLo & -legalLo);
      legalLo &= legalLo - 1;
    } else {
      sq = 63 - Math.clz32(legalHi & -legalHi);
      legalHi &= legalHi - 1;
    }
    child.copyFrom(board);
    child.play(sq);
    let childPly = ply + 1;
    if (child.passed) {
      // The opponent's forced pass is a ply of its own, leading to the same discs.
      counts[childPly] += 1;
      childPly++;
      if (childPly === depth) continue;
    }
    if (child.isOver()) {
      for (let i = childPly; i < depth; i++) counts[i] += 1;
      continue;
    }
    if (childPly === ply + 1) {
      expand(stack, childPly, depth, counts);
    } else {
      // After a pass the child sits two plies down; move it to its slot so deeper plies stay free.
      stack[childPly].copyFrom(child);
      expand(stack, childPly, depth, counts);
    }
  }
}
