import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// Runs the built CLI (`npm test` builds it first through pretest; otherwise run `npx tsc -p .`).
const root = fileURLToPath(new URL('../../../', import.meta.url));

function gamba(...args: string[]) {
  const result = spawnSync(process.execPath, ['bin/gamba.js', ...args], { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('gamba perft othello', () => {
  beforeAll(() => {
    if (!existsSync(`${root}dist/src/cli.js`)) throw new Error('dist/ is missing: run `npx tsc -p .` before these tests');
  });

  it('prints the counts as one exact JSON object with --json', () => {
    const { code, stdout } = gamba('perft', 'othello', '--depth', '5', '--json');
    expect(code).toBe(0);
    expect(stdout).toBe('{"game":"othello","counts":[4,12,56,244,1396]}\n');
  });

  it('prints one line per depth without --json', () => {
    const { code, stdout } = gamba('perft', 'othello', '--depth', '3');
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').map((line) => line.split(/\s+/).pop())).toEqual(['4', '12', '56']);
  });

  it('rejects a bad depth and an unknown game with one line on stderr and a non-zero exit', () => {
    for (const args of [
      ['perft', 'othello', '--depth', '0'],
      ['perft', 'othello', '--depth', 'abc'],
      ['perft', 'othello', '--depth', '2.5'],
      ['perft', 'othello', '--depth', '99'],
      ['perft', 'chess', '--depth', '3'],
    ]) {
      const { code, stdout, stderr } = gamba(...args);
      expect(code, args.join(' ')).not.toBe(0);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(args[1] === 'chess' ? /unknown game "chess"/ : /--depth must be an integer from 1 to 12/);
    }
  });
});
