/**
 * The loop every match shares: play games one after another through one reader of the model (a
 * TokenStepper, or for Othello the symmetric reader), hand each finished game on at once, and let a
 * failing engine end the match early without losing the games already played.
 */

export interface MatchResult<G> {
  games: G[];
  /** The error that stopped the match early (a dead engine), with the games finished before it. */
  error: unknown;
}

export async function playMatch<G, R extends { dispose(): void }>(
  /** The model's reader; the match disposes of it. */
  reader: R,
  games: number,
  playGame: (reader: R, index: number) => Promise<G>,
  onGame?: (game: G) => void,
  /** Asked after each game: true ends the match there (a person who quit). */
  stop?: () => boolean,
): Promise<MatchResult<G>> {
  const finished: G[] = [];
  try {
    for (let i = 0; i < games; i++) {
      const game = await playGame(reader, i);
      finished.push(game);
      onGame?.(game);
      if (stop?.()) break;
    }
  } catch (error) {
    return { games: finished, error };
  } finally {
    reader.dispose();
  }
  return { games: finished, error: null };
}
