/**
 * The chess legal-move rate, the anchors' first-try legality without an engine: for every White and
 * Black move of held-out games, the model reads the game string up to that move (`;1.e4 e5 2.` or
 * `;1.e4 `), and its greedy move is what it predicts one character at a time until a space, as in
 * `gamba play`. Is that legal SAN in the game's position there? Overall and by full-move number (both
 * moves of move m count at m), and by side.
 *
 * Each game is read once with the stateful step(): before each move the state is copied, the greedy
 * characters fed, the copy put back and the game's own move fed. Moves past the model's context (a
 * transformer's positions) or past the record's inputs are not scored, as the training never saw them.
 */
import { Chess } from 'chess.js';
import { movesOfGameString } from '../../games/chess/game-string.js';
import { playSan } from '../../games/chess/san.js';
import { decodeChessTokens, encodeChessText } from '../../games/chess/vocabulary.js';
import type { LanguageModel } from '../model/language-model.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { LegalMoveReport, MoveNumberRate } from './legal-moves.js';
import { MAX_TOKEN_CHARS, sampleMoveText } from './play-chess.js';
import { TokenStepper } from './token-stepper.js';

export interface ChessLegalMoveReport extends LegalMoveReport {
  bySide: { white: { positions: number; legalTop1: number }; black: { positions: number; legalTop1: number } };
}

export interface ChessLegalMoveOptions {
  onProgress?: (gamesDone: number) => void;
  /** Sees every scored move: game, ply (0 = White's first), the greedy text and whether it is legal. */
  onMove?: (game: number, ply: number, text: string, legal: boolean) => void;
  /** Prefixes errors (dataset file and split). */
  where?: string;
}

/** Scores `games` (count * recordLength chess tokens) with `model`, which sees tokens 0..recordLength-2. */
export async function chessLegalMoveRate(model: LanguageModel, games: Uint8Array, recordLength: number, options: ChessLegalMoveOptions = {}): Promise<ChessLegalMoveReport> {
  const count = games.length / recordLength;
  // The longest prefix scored: its move must start within the inputs the model was trained on.
  const inputs = Math.min(recordLength - 1, model.contextLength - MAX_TOKEN_CHARS);
  const tally = new Map<number, { positions: number; legal: number }>();
  const side = { white: { positions: 0, legal: 0 }, black: { positions: 0, legal: 0 } };
  const stepper = new TokenStepper(model);
  const greedy = new Rng(0);
  try {
    for (let g = 0; g < count; g++) {
      // Padding is the trailing run of spaces (a game string never ends with one).
      const text = decodeChessTokens(games.subarray(g * recordLength, (g + 1) * recordLength)).replace(/ +$/, '');
      let sans: string[];
      try {
        sans = movesOfGameString(text);
      } catch (error) {
        throw new UserError(`${options.where ?? 'chess games'} game ${g}: ${(error as Error).message}`);
      }
      const chess = new Chess();
      stepper.reset();
      let fed = 0;
      let start = 1;
      for (let ply = 0; ply < sans.length; ply++) {
        // The move's text starts after `N.` (White) or after the space (Black).
        const moveStart = ply % 2 === 0 ? text.indexOf('.', start) + 1 : start;
        if (moveStart > inputs) break;
        await stepper.feed(encodeChessText(text.slice(fed, moveStart)));
        fed = moveStart;
        const before = await stepper.snapshot();
        const guess = await sampleMoveText(stepper, 0, greedy);
        stepper.restore(before);
        const move = guess === '' ? 'unparsable' : playSan(chess, guess);
        const legal = typeof move !== 'string';
        if (legal) chess.undo();
        options.onMove?.(g, ply, guess, legal);
        const number = Math.floor(ply / 2) + 1;
        let t = tally.get(number);
        if (!t) tally.set(number, (t = { positions: 0, legal: 0 }));
        t.positions++;
        const s = ply % 2 === 0 ? side.white : side.black;
        s.positions++;
        if (legal) {
          t.legal++;
          s.legal++;
        }
        const played = playSan(chess, sans[ply]);
        if (typeof played === 'string') throw new UserError(`${options.where ?? 'chess games'} game ${g}: ply ${ply + 1} (${sans[ply]}) is not legal SAN there (${played})`);
        start = moveStart + sans[ply].length + 1;
      }
      options.onProgress?.(g + 1);
    }
  } finally {
    stepper.dispose();
  }
  const byMove: MoveNumberRate[] = [...tally.entries()].sort((a, b) => a[0] - b[0]).map(([move, t]) => ({ move, positions: t.positions, legalTop1: t.legal / t.positions }));
  const positions = side.white.positions + side.black.positions;
  const rate = (s: { positions: number; legal: number }) => ({ positions: s.positions, legalTop1: s.positions > 0 ? s.legal / s.positions : 0 });
  return {
    legalTop1: positions > 0 ? (side.white.legal + side.black.legal) / positions : 0,
    positions,
    games: count,
    byMove,
    bySide: { white: rate(side.white), black: rate(side.black) },
  };
}
