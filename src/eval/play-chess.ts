/**
 * The model against a UCI engine, with the chess anchors' protocol (REFERENCES.md): the model reads the
 * game string so far (`;1.e4 e5 2.`) and its move is the first space-separated token it samples,
 * character by character with the stateful step(). A move that is not legal SAN is taken back and
 * resampled, up to 5 times; a sixth failure forfeits the game. By default each try samples at
 * Karvonen's temperature for it (chess_gpt_eval): 0.001 on the first, then 0.2 more a try, at most 0.5. Games stop at 89 full moves (the
 * context of a 1024-character block, or a transformer's shorter one); such a game counts as a draw and
 * is reported as capped. The engine plays with a fixed Skill Level and a node or time limit per move.
 */
import { Chess } from 'chess.js';
import { gameStringOf } from '../../games/chess/game-string.js';
import { pgnOfGame } from '../../games/chess/pgn-writer.js';
import { playSan, playUci, uciOfMove } from '../../games/chess/san.js';
import type { SearchLimit, SearchResult } from '../../games/chess/uci.js';
import { CHESS_BLOCK_LENGTH, CHESS_CHARS, SPACE_TOKEN, encodeChessText } from '../../games/chess/vocabulary.js';
import type { LanguageModel } from '../model/language-model.js';
import { Rng } from '../util/rng.js';
import { playMatch, type MatchResult } from './match-loop.js';
import { TokenStepper, sampleToken } from './token-stepper.js';

export const CHESS_MOVE_CAP = 89;
/** The first try plus 5 resamples. */
export const CHESS_ATTEMPTS = 6;
/** Longest SAN is 7 characters (`exd8=Q+`); a token still unfinished after this many is cut there. */
export const MAX_TOKEN_CHARS = 10;

export type Color = 'white' | 'black';

/** A fixed sampling temperature, or 'karvonen': the anchors' temperature for each try (karvonenTemperature). */
export type ChessTemperature = number | 'karvonen';

/** Karvonen's temperature for try `attempt` (0 = the first): min(attempt / 5 + 0.001, 0.5), so the first try is all but greedy. */
export function karvonenTemperature(attempt: number): number {
  return Math.min(attempt / 5 + 0.001, 0.5);
}

function temperatureOfTry(temperature: ChessTemperature, attempt: number): number {
  return temperature === 'karvonen' ? karvonenTemperature(attempt) : temperature;
}

/** What a game asks of the model's opponent: a UCI engine, or a person (human-seat.ts), who may resign. */
export interface ChessOpponent {
  label: string;
  newGame(): Promise<void>;
  bestMove(uciMoves: readonly string[], limit: SearchLimit): Promise<SearchResult & { resigned?: boolean }>;
}

export interface ChessMatchOptions {
  model: LanguageModel;
  modelName: string;
  /** One opponent per game played at once (a person: just the one). */
  engines: ChessOpponent[];
  /** How the PGN names the engine side, e.g. "Stockfish 19 WASM (Skill 0, 1000 nodes)". */
  engineLabel: string;
  limit: SearchLimit;
  games: number;
  /** The model's colour in each game ('both' alternates, White first). */
  color: Color | 'both';
  seed: number;
  /** Softmax temperature of the character sampling (0 = greedy: a resample repeats the same move), or Karvonen's per try. */
  temperature: ChessTemperature;
  moveCap?: number;
  /** Called as each game finishes (so it can be saved before the next starts). */
  onGame?: (game: ChessGameRecord) => void;
  /** Asked after each game: true ends the match (a person who quit). */
  stop?: () => boolean;
}

export type ChessTermination = 'checkmate' | 'stalemate' | 'threefold' | 'fifty-move' | 'insufficient-material' | 'move-cap' | 'context-full' | 'forfeit' | 'resign';

export interface ChessGameRecord {
  index: number;
  modelColor: Color;
  sans: string[];
  result: '1-0' | '0-1' | '1/2-1/2';
  termination: ChessTermination;
  /** 1 win, 0.5 draw, 0 loss, for the model. */
  modelPoints: number;
  modelMoves: number;
  legalFirstTry: number;
  illegalAttempts: number;
  engineMoves: number;
  engineNodes: number;
  engineMs: number;
  pgn: string;
}

/** Plays game `index` of a match. Throws (a UserError) when the engine dies or hangs. */
export async function playChessGame(options: ChessMatchOptions, stepper: TokenStepper, index: number, engine: ChessOpponent): Promise<ChessGameRecord> {
  const { limit, temperature } = options;
  const moveCap = options.moveCap ?? CHESS_MOVE_CAP;
  const modelColor: Color = options.color === 'both' ? (index % 2 === 0 ? 'white' : 'black') : options.color;
  const rng = new Rng(options.seed, index);
  const chess = new Chess();
  const sans: string[] = [];
  const ucis: string[] = [];
  let fedText = '';
  stepper.reset();
  await engine.newGame();
  const record = { modelMoves: 0, legalFirstTry: 0, illegalAttempts: 0, engineMoves: 0, engineNodes: 0, engineMs: 0 };
  let termination: ChessTermination | null = null;
  let forfeitBy: Color | null = null;

  while (termination === null) {
    if (chess.isCheckmate()) termination = 'checkmate';
    else if (chess.isStalemate()) termination = 'stalemate';
    else if (chess.isInsufficientMaterial()) termination = 'insufficient-material';
    else if (chess.isThreefoldRepetition()) termination = 'threefold';
    else if (chess.isDrawByFiftyMoves()) termination = 'fifty-move';
    else if (sans.length >= 2 * moveCap) termination = 'move-cap';
    if (termination !== null) break;
    const toMove: Color = chess.turn() === 'w' ? 'white' : 'black';
    if (toMove !== modelColor) {
      const search = await engine.bestMove(ucis, limit);
      if (search.resigned) {
        termination = 'resign';
        forfeitBy = toMove;
        break;
      }
      if (search.move === null) throw new Error(`engine ${engine.label} found no move in ${chess.fen()}, which is not over`);
      const move = playUci(chess, search.move);
      if (!move) throw new Error(`engine ${engine.label} played ${search.move}, not legal in ${chess.fen()}`);
      sans.push(move.san);
      ucis.push(search.move);
      record.engineMoves++;
      record.engineNodes += search.nodes;
      record.engineMs += search.wallMs;
      continue;
    }
    // The model's turn: the string up to its move (`;1.e4 e5 2.` or `;1.e4 `).
    const soFar = gameStringOf(sans);
    const prefix = toMove === 'white' ? soFar + (sans.length > 0 ? ' ' : '') + `${sans.length / 2 + 1}.` : soFar + ' ';
    // Room for a move of at least two characters in the block, and for the longest in a transformer's context.
    if (prefix.length + 2 > CHESS_BLOCK_LENGTH || prefix.length + MAX_TOKEN_CHARS > stepper.capacity) {
      termination = 'context-full';
      break;
    }
    if (!prefix.startsWith(fedText)) {
      stepper.reset();
      fedText = '';
    }
    await stepper.feed(encodeChessText(prefix.slice(fedText.length)));
    fedText = prefix;
    const before = await stepper.snapshot();
    record.modelMoves++;
    let played = false;
    for (let attempt = 0; attempt < CHESS_ATTEMPTS && !played; attempt++) {
      if (attempt > 0) stepper.restore(before);
      const text = await sampleMoveText(stepper, temperatureOfTry(temperature, attempt), rng);
      const move = text === '' ? 'unparsable' : playSan(chess, text);
      if (typeof move === 'string') {
        record.illegalAttempts++;
        continue;
      }
      played = true;
      if (attempt === 0) record.legalFirstTry++;
      sans.push(move.san);
      ucis.push(uciOfMove(move));
      // The state holds prefix + text; it is the game string only if text is the canonical SAN.
      if (text === move.san) fedText = prefix + text;
      else stepper.restore(before);
    }
    if (!played) {
      termination = 'forfeit';
      forfeitBy = modelColor;
    }
  }

  let result: ChessGameRecord['result'];
  if (termination === 'checkmate') result = chess.turn() === 'w' ? '0-1' : '1-0';
  else if (termination === 'forfeit' || termination === 'resign') result = forfeitBy === 'white' ? '0-1' : '1-0';
  else result = '1/2-1/2';
  const modelPoints = result === '1/2-1/2' ? 0.5 : (result === '1-0') === (modelColor === 'white') ? 1 : 0;
  const modelSide = `gamba ${options.modelName}`;
  const pgn = pgnOfGame({
    headers: {
      Event: 'gamba play',
      Site: 'gamba',
      Date: new Date().toISOString().slice(0, 10).replace(/-/g, '.'),
      Round: String(index + 1),
      White: modelColor === 'white' ? modelSide : options.engineLabel,
      Black: modelColor === 'black' ? modelSide : options.engineLabel,
      Termination: termination === 'forfeit' ? `forfeit: ${CHESS_ATTEMPTS} illegal moves in a row` : termination === 'resign' ? `${options.engineLabel} resigned` : termination,
      PlyCount: String(sans.length),
      ModelLegalFirstTry: `${record.legalFirstTry}/${record.modelMoves}`,
    },
    sans,
    result,
  });
  return { index, modelColor, sans, result, termination, modelPoints, ...record, pgn };
}

/** Samples characters until a space; returns the text before it (the state then holds that text). */
export async function sampleMoveText(stepper: TokenStepper, temperature: number, rng: Rng): Promise<string> {
  let text = '';
  let logits = stepper.logits!;
  while (text.length < MAX_TOKEN_CHARS) {
    const id = sampleToken(logits, temperature, () => rng.nextFloat());
    if (id === SPACE_TOKEN) break;
    text += CHESS_CHARS[id] ?? '?';
    logits = await stepper.feed([id]);
  }
  return text;
}

export type ChessMatchResult = MatchResult<ChessGameRecord>;

/** Plays the match, a game per engine at once; a failing engine ends it early, keeping the finished games. */
export function playChessMatch(options: ChessMatchOptions): Promise<ChessMatchResult> {
  const readers = options.engines.map(() => new TokenStepper(options.model));
  return playMatch(readers, options.games, (stepper, i, slot) => playChessGame(options, stepper, i, options.engines[slot]), options.onGame, options.stop);
}
