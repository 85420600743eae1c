/**
 * Elo from a match score: the logistic model, performance = opponent + 400 * log10(s / (1 - s)), with
 * a 95% interval from the score's standard error (per-game points 1 / 0.5 / 0). A score of 0 or 1 is
 * pulled in by half a game so the estimate stays finite; the interval says how little that means.
 */

/** Approximate Elo of Stockfish's Skill Level at 0.1 s per move (REFERENCES.md, from the chess anchors). */
export const STOCKFISH_SKILL_ELO: ReadonlyArray<[skill: number, elo: number]> = [
  [0, 1320],
  [1, 1468],
  [3, 1742],
  [5, 2204],
  [9, 2703],
];

/** The table's Elo for `skill`, linearly interpolated between its rows; null above 9 (no anchor figure). */
export function stockfishSkillElo(skill: number): number | null {
  const rows = STOCKFISH_SKILL_ELO;
  for (let i = 0; i < rows.length; i++) {
    const [s, elo] = rows[i];
    if (skill === s) return elo;
    if (skill < s) {
      if (i === 0) return null;
      const [s0, e0] = rows[i - 1];
      return Math.round(e0 + ((elo - e0) * (skill - s0)) / (s - s0));
    }
  }
  return null;
}

export interface EloEstimate {
  estimate: number;
  low: number;
  high: number;
}

/** Performance rating for per-game `points` (1, 0.5, 0) against an opponent rated `opponentElo`. */
export function eloFromPoints(points: readonly number[], opponentElo: number): EloEstimate | null {
  const n = points.length;
  if (n === 0) return null;
  const score = points.reduce((a, b) => a + b, 0) / n;
  const edge = 0.5 / n;
  const clamp = (s: number): number => Math.min(1 - edge, Math.max(edge, s));
  const sc = clamp(score);
  const variance = points.reduce((a, p) => a + (p - score) ** 2, 0) / n;
  // All results equal: use the binomial variance of the pulled-in score instead of 0.
  const se = Math.sqrt((variance > 0 ? variance : sc * (1 - sc)) / n);
  const elo = (s: number): number => Math.round(opponentElo + 400 * Math.log10(clamp(s) / (1 - clamp(s))));
  return { estimate: elo(score), low: elo(score - 1.96 * se), high: elo(score + 1.96 * se) };
}
