/**
 * The model against an Othello opponent: random or greedy (games/othello/players.ts) or a GTP engine
 * (gtp-rhino), or a person at the terminal (human-seat.ts). The model reads the moves so far as Othello-GPT tokens (passes are silent, as in its
 * training data) and picks its move from the next-token distribution:
 * - legal-only: restricted to the legal moves (argmax, or sampled with a temperature); it never errs;
 * - unrestricted: over the whole vocabulary; a token that is not a legal move is an illegal move and
 *   forfeits the game (the illegal rate is reported per model move).
 * The model cannot choose the very first move of a game (there is no token before it to read): when
 * it plays Black, its first move is drawn uniformly from the four (symmetric) openings. With
 * `openingMoves`, both sides' first moves are drawn at random from the game's seed, the same whatever
 * the opponent, so that a model playing its top move meets as many openings as games. With
 * `symmetries`, the model is read through the four opening symmetries and their scores averaged
 * (symmetric-reader.ts).
 */
import { OthelloBoard, BLACK } from '../../games/othello/board.js';
import type { GtpEngine } from '../../games/othello/gtp.js';
import type { HumanSeat } from './human-seat.js';
import { SQUARE_TO_TOKEN, TOKEN_TO_SQUARE, squareName } from '../../games/othello/notation.js';
import { greedyPlayer, randomPlayer } from '../../games/othello/players.js';
import type { LanguageModel } from '../model/language-model.js';
import { Rng } from '../util/rng.js';
import { playMatch, type MatchResult } from './match-loop.js';
import { SymmetricOthelloReader, type MoveReader } from './symmetric-reader.js';
import { TokenStepper, sampleToken } from './token-stepper.js';

export type OthelloColor = 'black' | 'white';
export type OthelloMode = 'legal-only' | 'unrestricted';

export interface OthelloMatchOptions {
  model: LanguageModel;
  opponent: 'random' | 'greedy' | 'rhino' | 'human';
  /** Started engines for opponent 'rhino', one per game played at once. */
  engines?: GtpEngine[];
  /** The person at the terminal, for opponent 'human'. */
  human?: HumanSeat;
  games: number;
  color: OthelloColor | 'both';
  seed: number;
  mode: OthelloMode;
  temperature: number;
  /** Read the model through the four opening symmetries and average (four model steps a move). */
  symmetries?: boolean;
  /** The first moves of every game, both sides', drawn uniformly from the legal ones (default 0). */
  openingMoves?: number;
  onGame?: (game: OthelloGameRecord) => void;
}

export interface OthelloGameRecord {
  index: number;
  modelColor: OthelloColor;
  moves: string[];
  /** Winner colour, 'draw', or the side that did not forfeit or resign. */
  result: OthelloColor | 'draw';
  termination: 'finished' | 'forfeit' | 'resign';
  counts: { black: number; white: number };
  modelPoints: number;
  /** Moves chosen by the model (its drawn first move as Black and the drawn opening moves excluded). */
  modelMoves: number;
  illegalMoves: number;
}

const COLORS: OthelloColor[] = ['black', 'white'];

export async function playOthelloGame(options: OthelloMatchOptions, stepper: MoveReader, index: number, engine?: GtpEngine): Promise<OthelloGameRecord> {
  const modelColor: OthelloColor = options.color === 'both' ? (index % 2 === 0 ? 'black' : 'white') : options.color;
  const rng = new Rng(options.seed, index);
  const board = OthelloBoard.initial();
  const moves: number[] = [];
  stepper.reset();
  if (options.opponent === 'rhino' && !engine) throw new Error('playOthelloGame: opponent rhino needs a started engine');
  await engine?.clearBoard();
  let modelMoves = 0;
  let illegalMoves = 0;
  let forfeit = false;
  let resigned = false;
  if (options.opponent === 'human' && !options.human) throw new Error('playOthelloGame: opponent human needs a seat');
  while (!board.isOver()) {
    const mover = COLORS[board.toMove];
    let square: number;
    // drawn: the opening moves asked for, and the model's first move as Black (no token to read before it)
    if (moves.length < (options.openingMoves ?? 0) || (mover === modelColor && moves.length === 0)) {
      square = randomPlayer(board, rng);
      await engine?.play(mover, square);
    } else if (mover === modelColor) {
      modelMoves++;
      const logits = stepper.logits!;
      if (options.mode === 'legal-only') {
        const allowed = board.legalMoves().map((sq) => SQUARE_TO_TOKEN[sq]);
        square = TOKEN_TO_SQUARE[sampleToken(logits, options.temperature, () => rng.nextFloat(), allowed)];
      } else {
        const token = sampleToken(logits, options.temperature, () => rng.nextFloat());
        square = token > 0 && token < TOKEN_TO_SQUARE.length ? TOKEN_TO_SQUARE[token] : -1;
        if (square < 0 || !board.isLegal(square)) {
          illegalMoves++;
          forfeit = true;
          break;
        }
      }
      await engine?.play(mover, square);
    } else if (options.opponent === 'human') {
      const answer = await options.human!.othelloMove(board, moves);
      if (answer === 'resign' || answer === 'quit') {
        resigned = true;
        break;
      }
      square = answer;
    } else if (engine) {
      square = await engine.legalMove(board, moves);
    } else {
      square = (options.opponent === 'greedy' ? greedyPlayer : randomPlayer)(board, rng);
    }
    board.play(square);
    moves.push(square);
    if (!board.isOver()) await stepper.feed([SQUARE_TO_TOKEN[square]]);
  }
  const counts = board.counts();
  let result: OthelloGameRecord['result'];
  if (forfeit) result = modelColor === 'black' ? 'white' : 'black';
  else if (resigned) result = modelColor;
  else {
    const winner = board.winner();
    result = winner === null ? 'draw' : winner === BLACK ? 'black' : 'white';
  }
  const modelPoints = result === 'draw' ? 0.5 : result === modelColor ? 1 : 0;
  return { index, modelColor, moves: moves.map(squareName), result, termination: forfeit ? 'forfeit' : resigned ? 'resign' : 'finished', counts, modelPoints, modelMoves, illegalMoves };
}

export type OthelloMatchResult = MatchResult<OthelloGameRecord>;

/** Plays the match, a game per engine at once (one without engines); a failing engine ends it early, keeping the finished games. */
export function playOthelloMatch(options: OthelloMatchOptions): Promise<OthelloMatchResult> {
  const engines = options.opponent === 'rhino' ? (options.engines ?? []) : [undefined];
  const readers = engines.map((): MoveReader => (options.symmetries ? new SymmetricOthelloReader(options.model) : new TokenStepper(options.model)));
  return playMatch(readers, options.games, (stepper, i, slot) => playOthelloGame(options, stepper, i, engines[slot]), options.onGame, () => options.human?.quitRequested ?? false);
}
