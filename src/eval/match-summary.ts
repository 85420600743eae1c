/** What a match comes to: W/D/L from the model's side, score, and the Elo estimate where there is a reference. */
import { eloFromPoints, stockfishSkillElo, type EloEstimate } from './elo.js';

/** Where `gamba play` keeps a checkpoint's matches by default (CHECKPOINT/matches/<match>/summary.json), and compare finds them. */
export const MATCHES_DIR = 'matches';
/** A match directory's totals, as `gamba play` writes them. */
export const MATCH_SUMMARY_FILE = 'summary.json';
/** How `gamba play` samples the model unless --temperature says otherwise (summary.json's model.temperature). */
export const DEFAULT_TEMPERATURE = { chess: 'karvonen', othello: 0 } as const;

export interface MatchTally {
  games: number;
  wins: number;
  draws: number;
  losses: number;
  score: number;
}

export function tally(points: readonly number[]): MatchTally {
  const wins = points.filter((p) => p === 1).length;
  const draws = points.filter((p) => p === 0.5).length;
  const losses = points.length - wins - draws;
  const score = points.length > 0 ? points.reduce((a, b) => a + b, 0) / points.length : 0;
  return { games: points.length, wins, draws, losses, score: Number(score.toFixed(4)) };
}

/** Elo against Stockfish at `skill` (null when the anchors' table has no figure for it). */
export function eloAgainstSkill(points: readonly number[], skill: number): (EloEstimate & { opponent: number }) | null {
  const opponent = stockfishSkillElo(skill);
  if (opponent === null) return null;
  const elo = eloFromPoints(points, opponent);
  return elo && { ...elo, opponent };
}
