/**
 * What a probe decodes: one class per board square (64 squares, square = row * 8 + col, a1 = 0), for
 * the position after move t. The labels come from replaying the game on the real engine
 * (games/othello/labels.ts), so passes are handled the way the games were made.
 */
import type { OthelloLabels } from '../games/othello/labels.js';

export const SQUARES = 64;

export type ProbeTarget = 'mine-theirs' | 'black-white' | 'flipped' | 'legal';

export const PROBE_TARGETS: readonly ProbeTarget[] = ['mine-theirs', 'black-white', 'flipped', 'legal'];

/** Class names per target, in label order (label value = index). */
const CLASS_NAMES: Record<ProbeTarget, readonly string[]> = {
  // Relative to the player who just made move t: the framing under which the board is linear.
  'mine-theirs': ['empty', 'mine', 'theirs'],
  'black-white': ['empty', 'black', 'white'],
  flipped: ['unflipped', 'flipped'],
  // Legal for the player to move after move t.
  legal: ['illegal', 'legal'],
};

export function targetClasses(target: ProbeTarget): readonly string[] {
  return CLASS_NAMES[target];
}

/** The (n, 64) label array of one game for `target`. */
export function targetLabels(target: ProbeTarget, labels: OthelloLabels): Uint8Array {
  switch (target) {
    case 'mine-theirs':
      return labels.mineTheirs;
    case 'black-white':
      return labels.blackWhite;
    case 'flipped':
      return labels.flipped;
    case 'legal':
      return labels.legalNext;
  }
}
