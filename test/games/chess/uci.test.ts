import { existsSync } from 'node:fs';
import { Chess } from 'chess.js';
import { describe, expect, it } from 'vitest';
import { playUci } from '../../../games/chess/san.js';
import { UciEngine, engineCommand } from '../../../games/chess/uci.js';

const NATIVE = '/usr/games/stockfish';

describe('UCI driver', () => {
  it.skipIf(!existsSync(NATIVE))('talks to a real engine: handshake, options, node-limited search, a legal move', async () => {
    const engine = await UciEngine.start(engineCommand(NATIVE));
    try {
      expect(engine.name).toMatch(/^Stockfish/);
      expect(engine.options.get('skill level')).toMatchObject({ type: 'spin', min: 0, max: 20 });
      await engine.setOption('Skill Level', 0);
      await expect(engine.setOption('Skill Level', 21)).rejects.toThrow(/Skill Level" takes 0..20, got 21/);
      await expect(engine.setOption('No Such Option', 1)).rejects.toThrow(/has no option "No Such Option"/);
      await engine.newGame();
      const search = await engine.bestMove(['e2e4', 'e7e5'], { nodes: 2000 });
      expect(search.nodes).toBeGreaterThan(0);
      const chess = new Chess();
      chess.move('e4');
      chess.move('e5');
      expect(playUci(chess, search.move!)).not.toBeNull();
    } finally {
      await engine.quit();
    }
  });

  it('reports an engine that dies during the handshake, naming it and its exit', async () => {
    const path = 'test/fixtures/chess/dying-engine.mjs';
    const command = { ...engineCommand(path), args: [path, 'early'] };
    await expect(UciEngine.start(command)).rejects.toThrow(/engine test\/fixtures\/chess\/dying-engine\.mjs exited with code 3 while gamba waited for 'uciok'/);
  });

  it('stops an engine that does not answer go, and says so', async () => {
    const engine = await UciEngine.start(engineCommand('test/fixtures/chess/silent-engine.mjs'), { moveMs: 300 });
    await expect(engine.bestMove([], { nodes: 10 })).rejects.toThrow(/silent-engine\.mjs did not answer 'bestmove' after 'go nodes 10' within 300 ms \(hung\?\); it was stopped/);
    expect(engine.alive).toBe(false);
  });

  it('refuses a missing engine path', () => {
    expect(() => engineCommand('/no/such/engine')).toThrow(/--engine \/no\/such\/engine: no such file/);
  });
});
