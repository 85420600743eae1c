/**
 * The loop every match shares: play games through readers of the model (a TokenStepper, or for
 * Othello the symmetric reader), hand each finished game on, and let a failing engine end the match
 * early without losing the games already played. With several readers, as many games are played at
 * once, one per slot (each slot with its own reader and, in the caller, its own engine process); a game
 * depends only on its index, so the games are the same and reach `onGame` in the same order, game 0
 * first, whatever the number of slots.
 */
import { InOrder } from '../util/in-order.js';

export interface MatchResult<G> {
  games: G[];
  /** The error that stopped the match early (a dead engine), with the games finished before it. */
  error: unknown;
}

export async function playMatch<G, R extends { dispose(): void }>(
  /** The model's readers, one per slot; the match disposes of them. */
  readers: R[],
  games: number,
  playGame: (reader: R, index: number, slot: number) => Promise<G>,
  onGame?: (game: G) => void,
  /** Asked after each game handed on: true ends the match there (a person who quit). */
  stop?: () => boolean,
): Promise<MatchResult<G>> {
  const delivered: G[] = [];
  let nextGame = 0;
  let stopped = false;
  let error: unknown = null;
  const handOn = (game: G) => {
    if (stopped) return;
    delivered.push(game);
    onGame?.(game);
    if (stop?.()) stopped = true;
  };
  const inOrder = new InOrder<G>(handOn);
  const claim = () => (error === null && !stopped && nextGame < games ? nextGame++ : null);
  const slot = async (reader: R, slotIndex: number) => {
    for (let index = claim(); index !== null; index = claim()) {
      let game: G;
      try {
        game = await playGame(reader, index, slotIndex);
      } catch (failure) {
        error ??= failure;
        return;
      }
      inOrder.put(index, game);
    }
  };
  try {
    await Promise.all(readers.map(slot));
  } finally {
    for (const reader of readers) reader.dispose();
  }
  // After a failure, games that finished after a gap are kept too (in game order).
  for (const game of inOrder.rest()) handOn(game);
  return { games: delivered, error };
}
