import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { gameStringOf, movesOfGameString, replayGameString } from '../../../games/chess/game-string.js';
import { parsePgn, readPgnGames, type PgnGame } from '../../../games/chess/pgn.js';
import { pgnOfGame } from '../../../games/chess/pgn-writer.js';
import { standardGameOf } from '../../../games/chess/standard-game.js';

const FIXTURE = 'test/fixtures/chess/mixed.pgn';
const text = readFileSync(FIXTURE, 'utf8');

describe('PGN reader', () => {
  const games = parsePgn(text);

  it('reads every game of the hand-written fixture, with tags, main lines and results', () => {
    expect(games.map((g) => g.headers.Event)).toEqual([
      'Rated Blitz game', 'Annotated', 'Endgame study', 'Chess960 game', 'Atomic game', 'Illegal king move', 'Null move',
      'Castling with zeros', 'Unbalanced parenthesis', 'Garbage word', 'No result marker', 'Explicit start FEN', 'Empty',
      'Long game with a promotion',
    ]);
    // Clocks, evals and NAGs dropped; `3... Nf6??` read as Nf6.
    expect(games[0].moves).toEqual(['e4', 'e5', 'Bc4', 'Nc6', 'Qh5', 'Nf6', 'Qxf7#']);
    expect(games[0].result).toBe('1-0');
    expect(games[0].headers.TimeControl).toBe('180+0');
    // Two tags on a line, an escaped quote, variations (nested) and comments skipped, `;` and `%` lines ignored.
    expect(games[1].headers.Site).toBe('?');
    expect(games[1].headers.Black).toBe('Player "Quoted" B.');
    expect(games[1].moves.join(' ')).toBe('d4 d5 c4 e6 Nc3 Nf6 Bg5 Be7 e3 O-O Nf3 h6 Bh4 b6 cxd5 Nxd5 Bxe7 Qxe7 Nxd5 exd5');
    expect(games[1].result).toBe('1/2-1/2');
    expect(games[1].syntaxError).toBeNull();
    expect(games[8].syntaxError).toMatch(/'\)' without a matching '\('/);
    expect(games[10].result).toBeNull();
    expect(games[10].moves).toHaveLength(7);
    expect(games[12].moves).toEqual([]);
    expect(games[13].moves).toHaveLength(120);
  });

  it('gives the same games whatever the chunk boundaries (streaming)', async () => {
    const bytes = Buffer.from('\ufeff' + text.replace(/\n/g, '\r\n'), 'utf8');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const streamed: PgnGame[] = [];
    for await (const game of readPgnGames(Readable.from(chunks))) streamed.push(game);
    expect(streamed.map((g) => [g.headers, g.moves, g.result, g.syntaxError])).toEqual(games.map((g) => [g.headers, g.moves, g.result, g.syntaxError]));
  });

  it('reports an unterminated comment or variation at the end of the input', () => {
    expect(parsePgn('[Event "x"]\n\n1. e4 {never closed')[0].syntaxError).toMatch(/inside a \{comment\}/);
    expect(parsePgn('[Event "x"]\n\n1. e4 (1. d4')[0].syntaxError).toMatch(/inside a \(variation\)/);
  });
});

describe('which games are imported', () => {
  it('keeps standard games from the start position and names the reason for every other one', () => {
    const verdicts = parsePgn(text).map((g) => {
      const s = standardGameOf(g);
      return s.ok ? 'ok' : s.reason;
    });
    expect(verdicts).toEqual([
      'ok', 'ok', 'fen-setup', 'variant', 'variant', 'illegal-move', 'null-move', 'nonstandard-notation', 'unparsable',
      'unparsable', 'ok', 'ok', 'no-moves', 'ok',
    ]);
  });

  it('round-trips PGN -> string -> moves -> PGN', () => {
    for (const game of parsePgn(text)) {
      const standard = standardGameOf(game);
      if (!standard.ok) continue;
      const string = gameStringOf(standard.sans);
      expect(replayGameString(string).history()).toEqual(standard.sans);
      const pgn = pgnOfGame({ headers: game.headers, sans: movesOfGameString(string), result: game.result ?? '*' });
      const [again] = parsePgn(pgn);
      expect(again.moves).toEqual(standard.sans);
      expect(again.result).toBe(game.result ?? '*');
      expect(again.headers.Event).toBe(game.headers.Event);
      expect(standardGameOf(again)).toEqual(standard);
    }
  });

  it('writes the promotion and castling of the long game in canonical SAN', () => {
    const long = parsePgn(text).find((g) => g.headers.Event === 'Long game with a promotion')!;
    const standard = standardGameOf(long);
    expect(standard.ok && gameStringOf(standard.sans)).toContain(' 11.O-O a5 ');
    expect(standard.ok && gameStringOf(standard.sans)).toContain(' 45.b8=B Rxb8 ');
  });
});
