/**
 * The loop every match shares: play games one after another through one TokenStepper, hand each
 * finished game on at once, and let a failing engine end the match early without losing the games
 * already played.
 */
import type { LanguageModel } from '../model/language-model.js';
import { TokenStepper } from './token-stepper.js';

export interface MatchResult<G> {
  games: G[];
  /** The error that stopped the match early (a dead engine), with the games finished before it. */
  error: unknown;
}

export async function playMatch<G>(
  model: LanguageModel,
  games: number,
  playGame: (stepper: TokenStepper, index: number) => Promise<G>,
  onGame?: (game: G) => void,
  /** Asked after each game: true ends the match there (a person who quit). */
  stop?: () => boolean,
): Promise<MatchResult<G>> {
  const stepper = new TokenStepper(model);
  const finished: G[] = [];
  try {
    for (let i = 0; i < games; i++) {
      const game = await playGame(stepper, i);
      finished.push(game);
      onGame?.(game);
      if (stop?.()) break;
    }
  } catch (error) {
    return { games: finished, error };
  } finally {
    stepper.dispose();
  }
  return { games: finished, error: null };
}
