/**
 * The chess legal-move rate against an independent reading: for every scored move, the greedy move
 * decoded through the full-sequence path (the whole prefix run again for each character) must be the
 * text the stateful step() path decoded, and its legality what chess.js says of it in the position the
 * game's moves reach. Moves are scored White and Black, numbered by full move, and only while they
 * start within the record's inputs; games read side by side give what each read alone would.
 */
import { Chess } from 'chess.js';
import { describe, expect, it } from 'vitest';
import { gameStringOf } from '../../games/chess/game-string.js';
import { randomChessGame } from '../../games/chess/random-game.js';
import { CHESS_CHARS, CHESS_VOCAB_SIZE, SPACE_TOKEN, encodeChessText } from '../../games/chess/vocabulary.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { chessLegalMoveRate } from '../../src/eval/chess-legal-moves.js';
import { configFromPreset } from '../../src/model/config.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { Rng } from '../../src/util/rng.js';

const RECORD = 96;
const be = new CpuBackend({ threads: 1 });

/** Records of RECORD characters: the game strings, cut to whole moves that fit, space-padded. */
function records(games: string[][]): { tokens: Uint8Array; texts: string[] } {
  const tokens = new Uint8Array(games.length * RECORD);
  const texts = games.map((sans, g) => {
    let n = sans.length;
    while (gameStringOf(sans.slice(0, n)).length > RECORD) n--;
    const text = gameStringOf(sans.slice(0, n));
    encodeChessText(text, tokens, g * RECORD);
    return text;
  });
  return { tokens, texts };
}

describe('chessLegalMoveRate', () => {
  const games = [['e4', 'e5', 'Nf3', 'Nc6', 'Bb5', 'a6', 'Ba4', 'Nf6', 'O-O', 'Be7'], randomChessGame(new Rng(5, 1)), randomChessGame(new Rng(6, 1))];
  const { tokens, texts } = records(games);

  for (const preset of ['tiny', 'quickstart-gpt']) {
    it(`${preset}: decodes the greedy move of every scored White and Black move as the sequence path does`, async () => {
      const config = configFromPreset(preset, CHESS_VOCAB_SIZE, RECORD - 1);
      // Weights four times their initial scale, so the greedy characters vary with the context (at the
      // initial scale they are the same character whatever the prefix).
      const params = initModelParameters(config, new Rng(9, 1));
      for (const [name, values] of params) if (!name.includes('norm')) values.forEach((v, i) => (values[i] = 4 * v));
      const model = createModel(be, config, params);
      const seen: { game: number; ply: number; text: string; legal: boolean }[] = [];
      // Two games a batch: the third game goes alone, and games of different lengths share a batch.
      const report = await chessLegalMoveRate(model, tokens, RECORD, { batch: 2, onMove: (game, ply, text, legal) => seen.push({ game, ply, text, legal }) });

      let expectedMoves = 0;
      for (let g = 0; g < texts.length; g++) {
        const chess = new Chess();
        const plies = seen.filter((m) => m.game === g).sort((a, b) => a.ply - b.ply);
        // Every move whose text starts within the inputs (positions 0..RECORD-2), and leaves a transformer
        // room for the longest move in its context, is scored, in order.
        const limit = Math.min(RECORD - 1, model.contextLength - 10);
        let start = 1;
        let scored = 0;
        const sans = games[g];
        for (let ply = 0; ply < sans.length; ply++) {
          const moveStart = ply % 2 === 0 ? texts[g].indexOf('.', start) + 1 : start;
          if (moveStart === 0 || moveStart > limit || moveStart >= texts[g].length) break;
          scored++;
          start = moveStart + sans[ply].length + 1;
        }
        expect(plies.map((m) => m.ply)).toEqual(Array.from({ length: scored }, (_, i) => i));
        expectedMoves += scored;
        start = 1;
        for (const m of plies.slice(0, 6)) {
          const moveStart = m.ply % 2 === 0 ? texts[g].indexOf('.', start) + 1 : start;
          // The sequence path: the whole prefix, then each greedy character, run again from the start.
          let context = Array.from(encodeChessText(texts[g].slice(0, moveStart)));
          let text = '';
          while (text.length < 10) {
            const logits = await model.logits(Int32Array.from(context), 1, context.length);
            const last = logits.subarray((context.length - 1) * CHESS_VOCAB_SIZE, context.length * CHESS_VOCAB_SIZE);
            const id = last.indexOf(Math.max(...last));
            if (id === SPACE_TOKEN) break;
            text += CHESS_CHARS[id];
            context = [...context, id];
          }
          expect(m.text, `game ${g} ply ${m.ply}`).toBe(text);
          let legal = false;
          try {
            legal = new Chess(chess.fen()).move(text, { strict: true }).san.replace(/[+#]$/, '') === text.replace(/[+#]$/, '');
          } catch {
            legal = false;
          }
          expect(m.legal, `game ${g} ply ${m.ply}: ${text}`).toBe(legal);
          chess.move(sans[m.ply]);
          start = moveStart + sans[m.ply].length + 1;
        }
      }
      expect(report.positions).toBe(expectedMoves);
      expect(report.bySide.white.positions + report.bySide.black.positions).toBe(expectedMoves);
      expect(report.byMove.reduce((n, m) => n + m.positions, 0)).toBe(expectedMoves);
      expect(report.byMove[0]).toMatchObject({ move: 1, positions: 6 });
      expect(new Set(seen.map((m) => m.text)).size).toBeGreaterThan(10);
    });
  }

  it('names the game and move of a record that is not legal chess', async () => {
    const config = configFromPreset('tiny', CHESS_VOCAB_SIZE, RECORD - 1);
    const model = createModel(be, config, initModelParameters(config, new Rng(9, 1)));
    const bad = new Uint8Array(RECORD);
    encodeChessText(';1.e4 e5 2.Ke3', bad);
    await expect(chessLegalMoveRate(model, bad, RECORD, { where: 'data/val' })).rejects.toThrow('data/val game 0: ply 3 (Ke3) is not legal SAN there (illegal-move)');
  });
});
