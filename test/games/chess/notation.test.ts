import { Chess } from 'chess.js';
import { describe, expect, it } from 'vitest';
import { gameStringOf, gameStringOfRecord, movesOfGameString, replayGameString, writeGameRecord } from '../../../games/chess/game-string.js';
import { playSan } from '../../../games/chess/san.js';
import { CHESS_BLOCK_LENGTH, CHESS_CHARS, CHESS_VOCAB_SIZE, chessCharId, decodeChessTokens, encodeChessText } from '../../../games/chess/vocabulary.js';

describe('chess vocabulary', () => {
  it("is the anchors' 32 characters in their order", () => {
    expect(CHESS_CHARS).toBe(" #+-.0123456789;=BKNOQRabcdefghx");
    expect(CHESS_VOCAB_SIZE).toBe(32);
    expect(new Set(CHESS_CHARS).size).toBe(32);
    expect(chessCharId(' ')).toBe(0);
    expect(chessCharId('.')).toBe(4);
    expect(chessCharId(';')).toBe(15);
    expect(chessCharId('x')).toBe(31);
    expect(chessCharId('P')).toBe(-1);
  });

  it('encodes and decodes text byte for byte and refuses other characters', () => {
    const text = ';1.e4 e5 2.Nf3 Nc6 3.Bb5 a6 4.O-O Nf6 5.exd8=Q+ Kxd8#';
    const ids = encodeChessText(text);
    expect(ids[0]).toBe(15);
    expect(ids[2]).toBe(4);
    expect(decodeChessTokens(ids)).toBe(text);
    expect(() => encodeChessText(';1.e4 e5 1-0 {x}')).toThrow(/"\{" at 13/);
    expect(() => encodeChessText(';1.e4 P')).toThrow(/not in the chess vocabulary/);
  });
});

describe('game strings', () => {
  it('spell moves as ;1.e4 e5 2.Nf3 with numbers before White moves only', () => {
    expect(gameStringOf([])).toBe(';');
    expect(gameStringOf(['e4'])).toBe(';1.e4');
    expect(gameStringOf(['e4', 'e5', 'Nf3', 'Nc6', 'Bb5'])).toBe(';1.e4 e5 2.Nf3 Nc6 3.Bb5');
    expect(movesOfGameString(';1.e4 e5 2.Nf3 Nc6 3.Bb5')).toEqual(['e4', 'e5', 'Nf3', 'Nc6', 'Bb5']);
  });

  it('refuse malformed strings', () => {
    expect(() => movesOfGameString('1.e4 e5')).toThrow(/starts with ';'/);
    expect(() => movesOfGameString(';1.e4 e5 3.Nf3')).toThrow(/move 2\./);
    expect(() => movesOfGameString(';1.e4  e5')).toThrow(/Black move/);
    expect(() => movesOfGameString(';1. e4')).toThrow(/move 1\./);
    expect(() => replayGameString(';1.e4 e5 2.Ke3')).toThrow(/ply 3 \(Ke3\): illegal move/);
  });

  it('fill a 1024-character record, padded with spaces, cut after the last whole move that fits', () => {
    const short = new Uint8Array(CHESS_BLOCK_LENGTH).fill(7);
    expect(writeGameRecord(['e4', 'e5'], short, 0)).toBe(2);
    expect(decodeChessTokens(short.subarray(0, 8))).toBe(';1.e4 e5');
    expect(short.subarray(8).every((t) => t === 0)).toBe(true);
    expect(gameStringOfRecord(short)).toBe(';1.e4 e5');

    // A long legal shuffle of knights (300 plies) cannot fit.
    const sans: string[] = [];
    const cycle = ['Nf3', 'Nf6', 'Ng1', 'Ng8'];
    for (let i = 0; i < 300; i++) sans.push(cycle[i % 4]);
    const record = new Uint8Array(CHESS_BLOCK_LENGTH);
    const kept = writeGameRecord(sans, record, 0);
    expect(kept).toBeLessThan(300);
    const text = gameStringOfRecord(record);
    expect(text.length).toBeLessThanOrEqual(CHESS_BLOCK_LENGTH);
    expect(text).toBe(gameStringOf(sans.slice(0, kept)));
    // The next ply would not have fitted.
    expect(gameStringOf(sans.slice(0, kept + 1)).length).toBeGreaterThan(CHESS_BLOCK_LENGTH);
    expect(text.startsWith(';1.Nf3 Nf6 2.Ng1')).toBe(true);
  });
});

describe('strict SAN', () => {
  const after = (moves: string[]): Chess => {
    const chess = new Chess();
    for (const m of moves) chess.move(m);
    return chess;
  };

  it("refuses the null move and the lenient forms chess.js's own parser accepts", () => {
    const chess = new Chess();
    expect(playSan(chess, '--')).toBe('null-move');
    expect(playSan(chess, 'e2e4')).toBe('nonstandard-notation');
    expect(playSan(chess, 'Pe4')).toBe('unparsable');
    expect(playSan(chess, 'e5')).toBe('illegal-move');
    expect(chess.history()).toEqual([]);
    const castle = after(['e4', 'e5', 'Nf3', 'Nc6', 'Bc4', 'Bc5']);
    expect(playSan(castle, '0-0')).toBe('nonstandard-notation');
    expect(playSan(castle, 'Nge2')).toBe('illegal-move');
    const knights = after(['e4', 'e5']);
    expect(playSan(knights, 'Nge2')).toBe('nonstandard-notation');
    const promote = new Chess('8/P7/8/8/8/8/8/k6K w - - 0 1');
    expect(playSan(promote, 'a8Q')).toBe('nonstandard-notation');
    const played = playSan(promote, 'a8=Q');
    expect(typeof played === 'string' ? played : played.san).toBe('a8=Q+');
  });

  it('tolerates a missing check mark and returns the canonical SAN', () => {
    const chess = after(['f3', 'e5', 'g4']);
    const move = playSan(chess, 'Qh4');
    expect(typeof move === 'string' ? move : move.san).toBe('Qh4#');
  });
});
