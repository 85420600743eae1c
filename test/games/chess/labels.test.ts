import { describe, expect, it } from 'vitest';
import { chessBoardLabels } from '../../../games/chess/labels.js';

// Classes: 0 empty, 1..6 mine (P N B R Q K), 7..12 theirs; square = rank * 8 + file, a1 = 0.
const sq = (name: string): number => (Number(name[1]) - 1) * 8 + name.charCodeAt(0) - 97;

describe('chess board labels', () => {
  it("give the start position at the first '.' from White's side", () => {
    const { positions, labels } = chessBoardLabels(';1.e4 e5 2.Nf3');
    expect(positions).toEqual([2, 10]);
    const first = labels.subarray(0, 64);
    expect(Array.from(first.subarray(0, 8))).toEqual([4, 2, 3, 5, 6, 3, 2, 4]);
    expect(Array.from(first.subarray(8, 16))).toEqual(new Array(8).fill(1));
    expect(Array.from(first.subarray(16, 48))).toEqual(new Array(32).fill(0));
    expect(Array.from(first.subarray(48, 56))).toEqual(new Array(8).fill(7));
    expect(Array.from(first.subarray(56, 64))).toEqual([10, 8, 9, 11, 12, 9, 8, 10]);
  });

  it("show the board before White's move at each later '.'", () => {
    const { labels } = chessBoardLabels(';1.e4 e5 2.Nf3 Nc6 3.Bb5');
    const second = labels.subarray(64, 128);
    expect(second[sq('e4')]).toBe(1);
    expect(second[sq('e2')]).toBe(0);
    expect(second[sq('e5')]).toBe(7);
    expect(second[sq('e7')]).toBe(0);
    const third = labels.subarray(128, 192);
    expect(third[sq('f3')]).toBe(2);
    expect(third[sq('g1')]).toBe(0);
    expect(third[sq('c6')]).toBe(8);
    expect(third[sq('b8')]).toBe(0);
    expect(labels.length).toBe(3 * 64);
  });

  it('refuse an illegal game', () => {
    expect(() => chessBoardLabels(';1.e4 e5 2.Ke3 Nc6 3.a3')).toThrow(/Ke3/);
  });
});
