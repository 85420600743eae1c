/**
 * What a probe decodes: one class per board square (64 squares, square = row * 8 + col, a1 = 0) at
 * each probe point of a game (game-points.ts says which positions those are). The labels come from
 * replaying the game on the real rules (games/othello/labels.ts, games/chess/labels.ts), so passes,
 * captures and promotions are handled the way the games were made.
 */
import type { OthelloLabels } from '../games/othello/labels.js';
import { CHESS_LABEL_NAMES } from '../games/chess/labels.js';
import { UserError } from '../src/util/errors.js';

export const SQUARES = 64;

export type ProbeGame = 'othello' | 'chess';
export const PROBE_GAMES: readonly ProbeGame[] = ['othello', 'chess'];

export type OthelloTarget = 'mine-theirs' | 'black-white' | 'flipped' | 'legal';
export type ChessTarget = 'pieces';
export type ProbeTarget = OthelloTarget | ChessTarget;

/** The targets of each game; the first is the default. */
export const TARGETS_OF_GAME: Record<ProbeGame, readonly ProbeTarget[]> = {
  othello: ['mine-theirs', 'black-white', 'flipped', 'legal'],
  chess: ['pieces'],
};

export const PROBE_TARGETS: readonly ProbeTarget[] = [...TARGETS_OF_GAME.othello, ...TARGETS_OF_GAME.chess];

/** Class names per target, in label order (label value = index). */
const CLASS_NAMES: Record<ProbeTarget, readonly string[]> = {
  // Relative to the player who just made move t: the framing under which the board is linear.
  'mine-theirs': ['empty', 'mine', 'theirs'],
  'black-white': ['empty', 'black', 'white'],
  flipped: ['unflipped', 'flipped'],
  // Legal for the player to move after move t.
  legal: ['illegal', 'legal'],
  // Relative to the side to move, which at every probed `.` is White.
  pieces: CHESS_LABEL_NAMES,
};

export function targetClasses(target: ProbeTarget): readonly string[] {
  return CLASS_NAMES[target];
}

export function isProbeGame(game: string): game is ProbeGame {
  return (PROBE_GAMES as readonly string[]).includes(game);
}

/** Targets whose classes say mine/theirs (game-points.ts says whose "mine" is). */
export function isRelativeTarget(target: ProbeTarget): boolean {
  return target === 'mine-theirs' || target === 'pieces';
}

/**
 * The target to probe on `game`: `target` when it is one of the game's, the game's first when absent;
 * another game's target is a UserError naming the flag.
 */
export function resolveTarget(game: ProbeGame, target: ProbeTarget | undefined, flag = '--target'): ProbeTarget {
  const allowed = TARGETS_OF_GAME[game];
  if (target === undefined) return allowed[0];
  if (!allowed.includes(target)) throw new UserError(`${flag} ${target}: not a target for ${game} data (${game} targets: ${allowed.join(', ')})`);
  return target;
}

/** The (n, 64) label array of one Othello game for an Othello target. */
export function othelloTargetLabels(target: OthelloTarget, labels: OthelloLabels): Uint8Array {
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
