/**
 * Othello games as JSON lines (`{"moves":["f5","d6",...]}`, as `dataset export` and `gamba play`'s
 * games.jsonl write them; `.gz` and /dev/stdin read), each replayed as it is read: a line that is not
 * a JSON object with moves, a move that is not a square or not legal there stops the reading with the
 * file and line. The imports that read such files (import-jsonl, label-positions) share this.
 */
import { StringDecoder } from 'node:string_decoder';
import { OthelloBoard } from '../games/othello/board.js';
import { MAX_MOVES, parseSquare, squareName } from '../games/othello/notation.js';
import { UserError } from '../src/util/errors.js';
import { checkInputFiles, openText } from './input-files.js';

/** One line: the moves, and what `gamba play` adds about the model's side and the outcome. */
export interface GameLine {
  moves: string[];
  modelColor?: string;
  result?: string;
  termination?: string;
}

export interface JsonlGame {
  /** `file:line`, for messages. */
  where: string;
  line: GameLine;
  /** The moves as squares, each checked legal in turn (passes are the board's own). */
  squares: number[];
}

/**
 * The games of `files` in order, blank lines skipped. `needs` names fields of gamba play's lines that
 * every line must have, and `why` says which option needs them.
 */
export async function* readJsonlGames(files: readonly string[], needs: readonly (keyof GameLine)[] = [], why = ''): AsyncGenerator<JsonlGame> {
  checkInputFiles(files, 'JSONL file');
  for (const file of files) {
    for await (const { text, line } of readLines(openText(file))) {
      if (text.trim() === '') continue;
      const where = `${file}:${line}`;
      const game = parseGame(text, where);
      if (!needs.every((field) => typeof game[field] === 'string')) throw new UserError(`${where}: ${why} needs the ${spokenList(needs)} of gamba play's games.jsonl`);
      yield { where, line: game, squares: replay(game.moves, where) };
    }
  }
}

/** `a`, `a and b`, `a, b and c`. */
const spokenList = (words: readonly string[]): string => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`);

function parseGame(text: string, where: string): GameLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserError(`${where}: not a JSON object`);
  }
  const game = value as GameLine;
  if (typeof value !== 'object' || value === null || !Array.isArray(game.moves) || !game.moves.every((m) => typeof m === 'string')) {
    throw new UserError(`${where}: expected {"moves":["f5","d6",...]}`);
  }
  return game;
}

function replay(moves: string[], where: string): number[] {
  if (moves.length > MAX_MOVES) throw new UserError(`${where}: ${moves.length} moves, more than an Othello game has (${MAX_MOVES})`);
  const board = OthelloBoard.initial();
  return moves.map((name, i) => {
    let sq: number;
    try {
      sq = parseSquare(name);
    } catch (error) {
      throw new UserError(`${where}: move ${i + 1}: ${(error as Error).message}`);
    }
    if (!board.isLegal(sq)) throw new UserError(`${where}: move ${i + 1} (${squareName(sq)}) is not legal there${board.isOver() ? ' (the game is over)' : ''}`);
    board.play(sq);
    return sq;
  });
}

/** The lines of a byte stream, numbered from 1. */
async function* readLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<{ text: string; line: number }> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  for await (const chunk of chunks) {
    const parts = (rest + decoder.write(chunk)).split('\n');
    rest = parts.pop()!;
    for (const text of parts) yield { text, line: ++line };
  }
  rest += decoder.end();
  if (rest !== '') yield { text: rest, line: ++line };
}
