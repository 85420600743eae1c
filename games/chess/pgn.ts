/**
 * A streaming PGN reader: text goes in chunk by chunk (any size: a lichess monthly dump is tens of GB),
 * games come out one by one with their tags and main-line moves. It keeps no more than one game and one
 * line in memory.
 *
 * What it understands (the PGN standard's import format, and what real files do with it):
 * - tag pairs `[Name "value"]` (with `\"` and `\\` escapes), several per line allowed;
 * - movetext: move numbers (`1.`, `1...`, glued `1.e4`), SAN moves with `!`/`?` suffixes, NAGs (`$14`),
 *   comments in braces (over several lines; lichess's `{ [%clk 0:03:00] }` is one), rest-of-line
 *   comments after `;`, `%` escape lines, variations in parentheses (nested; skipped: only the main line
 *   is kept), and the result that ends a game (`1-0`, `0-1`, `1/2-1/2`, `*`).
 * A game whose text breaks these rules is still returned, with `syntaxError` saying what was wrong, so
 * the caller can count it and go on with the next game. Move legality is not checked here (see san.ts).
 */
import { StringDecoder } from 'node:string_decoder';

export interface PgnGame {
  /** Tag pairs in file order. */
  headers: Record<string, string>;
  /** Main-line move texts as written, without move numbers, NAGs or `!`/`?` suffixes. */
  moves: string[];
  /** The game termination marker, or null when the text ended (or a new game began) without one. */
  result: string | null;
  /** What made the text unreadable as PGN, or null. */
  syntaxError: string | null;
  /** 1-based line where the game starts. */
  line: number;
}

const RESULT = /^(?:1-0|0-1|1\/2-1\/2|\*)$/;
/** `12`, `12.`, `12...`, or a number glued to its move (`12.e4`); not `0-0`, which is castling written with zeros. */
const MOVE_NUMBER = /^\d+(?:\.+(.*))?$/;
const TAG = /\s*\[\s*([A-Za-z0-9_+#=:-]+)\s+"((?:[^"\\]|\\.)*)"\s*\]/y;
const WORD_END = /[\s{}();[\]$]/;

export class PgnStreamParser {
  private partial = '';
  private lineNumber = 0;
  private game: PgnGame | null = null;
  private sawMovetext = false;
  private inComment = false;
  private depth = 0;
  private started = false;

  constructor(private readonly onGame: (game: PgnGame) => void) {}

  /** Feeds the next piece of text (any split, even inside a line). */
  push(chunk: string): void {
    let text = this.partial + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = text.slice(start);
  }

  /** Ends the input: the last game (if any) is emitted. */
  end(): void {
    if (this.partial !== '') this.line(this.partial);
    this.partial = '';
    if (this.game) {
      if (this.inComment) this.fail('the file ends inside a {comment}');
      else if (this.depth > 0) this.fail('the file ends inside a (variation)');
      this.finishGame(null);
    }
  }

  private line(raw: string): void {
    this.lineNumber++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.inComment) {
      const close = line.indexOf('}');
      if (close < 0) return;
      this.inComment = false;
      this.movetext(line, close + 1);
      return;
    }
    if (line.startsWith('%')) return;
    let i = 0;
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i === line.length) return;
    if (line[i] === '[') {
      // A tag after movetext begins the next game (the previous one had no result marker).
      if (this.game && this.sawMovetext) {
        if (this.depth > 0) this.fail('a new game begins inside a (variation)');
        this.finishGame(null);
      }
      this.tags(line, i);
      return;
    }
    this.movetext(line, i);
  }

  private tags(line: string, from: number): void {
    const game = this.current();
    TAG.lastIndex = from;
    let end = from;
    for (let match = TAG.exec(line); match; match = TAG.exec(line)) {
      game.headers[match[1]] = match[2].replace(/\\(["\\])/g, '$1');
      end = TAG.lastIndex;
    }
    if (line.slice(end).trim() !== '') this.fail(`line ${this.lineNumber}: malformed tag pair ${JSON.stringify(line.trim().slice(0, 60))}`);
  }

  private movetext(line: string, from: number): void {
    let i = from;
    while (i < line.length) {
      const c = line[i];
      if (c === ' ' || c === '\t' || c === '\f' || c === '\v') {
        i++;
      } else if (c === '{') {
        const close = line.indexOf('}', i + 1);
        if (close < 0) {
          this.current();
          this.inComment = true;
          return;
        }
        i = close + 1;
      } else if (c === ';') {
        return;
      } else if (c === '(') {
        this.current();
        this.sawMovetext = true;
        this.depth++;
        i++;
      } else if (c === ')') {
        if (this.depth === 0) this.fail(`line ${this.lineNumber}: ')' without a matching '('`);
        else this.depth--;
        i++;
      } else if (c === '$') {
        let j = i + 1;
        while (j < line.length && line.charCodeAt(j) >= 48 && line.charCodeAt(j) <= 57) j++;
        if (j === i + 1) this.fail(`line ${this.lineNumber}: '$' without a NAG number`);
        i = j;
      } else if (c === '}' || c === '[' || c === ']') {
        this.fail(`line ${this.lineNumber}: unexpected '${c}' in the moves`);
        i++;
      } else {
        let j = i + 1;
        while (j < line.length && !WORD_END.test(line[j])) j++;
        this.word(line.slice(i, j));
        i = j;
      }
    }
  }

  private word(word: string): void {
    const game = this.current();
    this.sawMovetext = true;
    if (this.depth > 0) return;
    if (RESULT.test(word)) {
      this.finishGame(word);
      return;
    }
    let text = word;
    const number = MOVE_NUMBER.exec(text);
    if (number) {
      text = number[1] ?? '';
      if (text === '') return;
    }
    // Move suffix annotations (!, ?, !!, ?!, ...) carry no move information.
    text = text.replace(/[!?]+$/, '');
    if (text === '') return;
    game.moves.push(text);
  }

  private current(): PgnGame {
    this.game ??= { headers: {}, moves: [], result: null, syntaxError: null, line: this.lineNumber };
    return this.game;
  }

  private fail(message: string): void {
    const game = this.current();
    game.syntaxError ??= message;
  }

  private finishGame(result: string | null): void {
    const game = this.game;
    this.game = null;
    this.sawMovetext = false;
    this.inComment = false;
    this.depth = 0;
    if (!game) return;
    game.result = result;
    this.onGame(game);
  }
}

/** Games of a stream of text chunks (e.g. a file read as UTF-8), in order. */
export async function* readPgnGames(chunks: AsyncIterable<string | Buffer>): AsyncGenerator<PgnGame> {
  const ready: PgnGame[] = [];
  const parser = new PgnStreamParser((game) => ready.push(game));
  // Buffers may split a UTF-8 character (in a player's name) between chunks.
  const decoder = new StringDecoder('utf8');
  for await (const chunk of chunks) {
    parser.push(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    while (ready.length > 0) yield ready.shift()!;
  }
  parser.push(decoder.end());
  parser.end();
  while (ready.length > 0) yield ready.shift()!;
}

/** All games of a PGN text (small inputs and tests). */
export function parsePgn(text: string): PgnGame[] {
  const games: PgnGame[] = [];
  const parser = new PgnStreamParser((game) => games.push(game));
  parser.push(text);
  parser.end();
  return games;
}
