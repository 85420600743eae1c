/**
 * `gamba dataset import-jsonl`: Othello games, one JSON object a line with the moves in order
 * (`{"moves":["f5","d6",...]}`, as `dataset export` and `gamba play`'s games.jsonl write them), into an
 * Othello dataset. Every game is replayed, passes implied as in the records; a move that is not a
 * square or not legal there stops the import with the file and line. With `modelWins`, only the games
 * of `gamba play` that the model won on the board are kept: its own wins, to learn from with
 * `train --winner-moves`. Games go to train or val in file order, by draws from `new Rng(seed)`.
 */
import { StringDecoder } from 'node:string_decoder';
import { OthelloBoard } from '../games/othello/board.js';
import { MAX_MOVES, SQUARE_TO_TOKEN, parseSquare, squareName } from '../games/othello/notation.js';
import { UserError } from '../src/util/errors.js';
import type { DatasetManifest } from './format.js';
import { DATASET_GAMES, recordShape } from './games.js';
import { checkInputFiles, openText } from './input-files.js';
import { DatasetWriter, SplitAppender, buildDatasetDirectory } from './writer.js';

export interface ImportJsonlOptions {
  files: string[];
  seed: number;
  valFraction: number;
  shardGames: number;
  force: boolean;
  /** Keep only the finished games that the model won (lines from `gamba play`). */
  modelWins: boolean;
}

export interface ImportJsonlSummary {
  read: number;
  imported: number;
  /** With modelWins: the games the model lost, drew, forfeited or resigned. */
  skipped: number;
  train: number;
  val: number;
}

export async function importJsonlDataset(outDir: string, options: ImportJsonlOptions): Promise<{ manifest: DatasetManifest; summary: ImportJsonlSummary }> {
  checkInputFiles(options.files, 'JSONL file');
  return buildDatasetDirectory(outDir, options.force, async (tmpDir) => {
    const othello = DATASET_GAMES.othello;
    const writer = new DatasetWriter(tmpDir, {
      ...recordShape(othello),
      source: options.modelWins ? 'jsonl, the model\'s wins' : 'jsonl',
      seed: options.seed,
      valFraction: options.valFraction,
      chunkGames: 1,
      shardGames: options.shardGames,
    });
    const games = new SplitAppender(writer, othello.recordLength, othello.padToken, options.seed, options.valFraction);
    let read = 0;
    let imported = 0;
    for (const file of options.files) {
      for await (const { text, line } of readLines(openText(file))) {
        if (text.trim() === '') continue;
        read++;
        const where = `${file}:${line}`;
        const game = parseGame(text, where, options.modelWins);
        // every line is checked, the games left out too: a bad file is refused whatever it holds
        const squares = replay(game.moves, where);
        if (options.modelWins && !wonByModel(game)) continue;
        games.add((records, offset) => squares.forEach((sq, i) => (records[offset + i] = SQUARE_TO_TOKEN[sq])));
        imported++;
      }
    }
    if (imported === 0) {
      throw new UserError(`${options.files.join(', ')}: no game to import (${read} read${options.modelWins ? ', none a finished game the model won' : ''})`);
    }
    const manifest = games.finish();
    return { manifest, summary: { read, imported, skipped: read - imported, train: manifest.counts.train, val: manifest.counts.val } };
  });
}

interface GameLine {
  moves: string[];
  modelColor?: string;
  result?: string;
  termination?: string;
}

function parseGame(text: string, where: string, modelWins: boolean): GameLine {
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
  if (modelWins && (typeof game.modelColor !== 'string' || typeof game.result !== 'string' || typeof game.termination !== 'string')) {
    throw new UserError(`${where}: --model-wins needs the modelColor, result and termination of gamba play's games.jsonl`);
  }
  return game;
}

const wonByModel = (game: GameLine): boolean => game.termination === 'finished' && game.result === game.modelColor;

/** The squares of a game's moves, each checked legal in turn (passes are the board's own). */
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
