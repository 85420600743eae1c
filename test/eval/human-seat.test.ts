/**
 * `gamba play --opponent human` through a real pseudo terminal (a tmux session): the board is shown,
 * moves are typed in the game's notation, an illegal one is refused with the reason, and resigning
 * ends the game with it saved (JSONL for Othello, PGN for chess). The seat's parsing is also checked
 * on plain streams, end of input included.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { HumanSeat } from '../../src/eval/human-seat.js';
import { startTraining } from '../../src/train/trainer.js';
import { gamba, gambaPath, requireBuiltCli } from '../cli-runner.js';

const TMUX = '/usr/bin/tmux';
const root = mkdtempSync(join(tmpdir(), 'gamba-human-'));
const sessions: string[] = [];
afterAll(() => {
  for (const s of sessions) spawnSync(TMUX, ['kill-session', '-t', s]);
  rmSync(root, { recursive: true, force: true });
});

/** A command in a detached tmux session of its own; what its pane shows, and keys typed into it. */
function terminal(name: string, command: string[]) {
  const session = `gamba-${name}-${process.pid}`;
  sessions.push(session);
  const line = command.map((a) => `'${a}'`).join(' ');
  const started = spawnSync(TMUX, ['new-session', '-d', '-s', session, '-x', '120', '-y', '60', `cd '${process.cwd()}' && ${line}; echo EXIT=$?; sleep 120`]);
  expect(started.status).toBe(0);
  const screen = () => spawnSync(TMUX, ['capture-pane', '-p', '-t', session, '-S', '-400'], { encoding: 'utf8' }).stdout;
  return {
    screen,
    type: (text: string) => {
      spawnSync(TMUX, ['send-keys', '-t', session, '-l', text]);
      spawnSync(TMUX, ['send-keys', '-t', session, 'Enter']);
    },
    /** Waits until the pane shows `pattern` (the nth time), failing after `ms`. */
    async waitFor(pattern: RegExp, nth = 1, ms = 60_000): Promise<string> {
      const until = Date.now() + ms;
      for (;;) {
        const text = screen();
        if ((text.match(new RegExp(pattern.source, 'g')) ?? []).length >= nth) return text;
        if (Date.now() > until) throw new Error(`the terminal never showed ${pattern} (${nth}x); it shows:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

describe('HumanSeat on plain streams', () => {
  it('refuses occupied and non-flipping squares with the reason, and reads resign and the end of input', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d) => (shown += d));
    const seat = new HumanSeat(input, output);
    const board = OthelloBoard.initial();
    input.write('d4\nc2\nx9\nD3\n');
    expect(await seat.othelloMove(board, [])).toBe(19);
    expect(shown).toContain('d4: d4 is occupied');
    expect(shown).toContain('c2: c2 flips no disc (legal: d3 c4 f5 e6)');
    expect(shown).toContain('x9: not a square');
    input.write('Resign\n');
    expect(await seat.othelloMove(board, [])).toBe('resign');
    expect(seat.quitRequested).toBe(false);
    input.write('Nf6\ne4\n');
    expect(await seat.chessMove([])).toBe('e2e4');
    expect(shown).toContain('Nf6: not a legal move in this position');
    input.end();
    expect(await seat.chessMove(['e2e4'])).toBe('quit');
    expect(seat.quitRequested).toBe(true);
    seat.close();
  });
});

describe.skipIf(!existsSync(TMUX))(`gamba play --opponent human in a terminal${existsSync(TMUX) ? '' : ' (skipped: no tmux)'}`, () => {
  const othelloCheckpoint = join('models', 'othello-base');
  const chessData = join(root, 'chess-data');
  const chessCheckpoint = join(root, 'chess');

  beforeAll(async () => {
    requireBuiltCli();
    expect(gamba('generate', 'chess', '--source', 'random', '--games', '12', '--seed', '5', '--val-fraction', '0.25', '--workers', '1', '--out', chessData).status).toBe(0);
    await startTraining({
      outDir: chessCheckpoint, game: 'chess', data: chessData, preset: 'tiny', backend: 'cpu', batch: 2, lr: 3e-3, weightDecay: 0.1,
      clip: 1, seed: 2, valEvery: 10, valGames: 2, saveEvery: 10, steps: 2,
    });
  }, 120_000);

  it('Othello: shows the board, refuses illegal squares with the reason, plays, and saves the resigned game as JSONL', async () => {
    const out = join(root, 'othello');
    const t = terminal('othello', [process.execPath, gambaPath, 'play', '--game', 'othello', '--checkpoint', othelloCheckpoint, '--opponent', 'human', '--color', 'white', '--backend', 'cpu', '--out', out]);
    let screen = await t.waitFor(/your move/);
    expect(screen).toMatch(/ {3}a b c d e f g h\n1 {2}\. \. \. \. \. \. \. \./);
    expect(screen).toContain('you play black (X); legal: d3 c4 f5 e6');
    t.type('d4');
    await t.waitFor(/d4: d4 is occupied/);
    t.type('c2');
    await t.waitFor(/c2: c2 flips no disc/);
    t.type('d3');
    // The model (white) answers; the board comes back with its move.
    screen = await t.waitFor(/your move/, 4);
    expect(screen).toMatch(/last move [a-h][1-8]; you play black/);
    t.type('resign');
    screen = await t.waitFor(/EXIT=\d+/);
    expect(screen).toContain('EXIT=0');
    expect(screen).toMatch(/game 1: white wins \(resign\)/);
    const [game] = readFileSync(join(out, 'games.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(game).toMatchObject({ modelColor: 'white', result: 'white', termination: 'resign' });
    expect(game.moves[0]).toBe('d3');
    expect(game.moves).toHaveLength(2);
  });

  it('chess: shows the board, refuses bad SAN with the reason, and saves the game as PGN', async () => {
    const out = join(root, 'chess-game');
    const t = terminal('chess', [process.execPath, gambaPath, 'play', '--game', 'chess', '--checkpoint', chessCheckpoint, '--opponent', 'human', '--color', 'black', '--backend', 'cpu', '--out', out]);
    let screen = await t.waitFor(/your move/);
    expect(screen).toContain(' 1 | R  N  B  Q  K  B  N  R |');
    expect(screen).toContain('you play White');
    t.type('e9');
    await t.waitFor(/e9: not a move in SAN/);
    t.type('Ke2');
    await t.waitFor(/Ke2: not a legal move in this position/);
    t.type('e4');
    // A model trained for two steps may forfeit its reply (six illegal tries) or play on; resign then.
    screen = await t.waitFor(/game 1:|your move[^\n]*\n[\s\S]*your move[^\n]*\n[\s\S]*your move[^\n]*\n[\s\S]*your move/);
    if (!/game 1:/.test(screen)) t.type('resign');
    screen = await t.waitFor(/EXIT=\d+/);
    expect(screen).toContain('EXIT=0');
    const pgn = readFileSync(join(out, 'games.pgn'), 'utf8');
    expect(pgn).toContain('[White "human"]');
    expect(pgn).toMatch(/\[Termination "(forfeit: 6 illegal moves in a row|human resigned)"\]/);
    expect(pgn).toMatch(/\n1\. e4 /);
  });
});
