/**
 * Interventions, piece by piece: the edited positions and their legal moves (a one-move game whose
 * every edit is worked out by hand), the probe's edit (the square reads the class asked for by the
 * mirrored margin; a reading already there gives no edit), and the edit passes through the model (a
 * probe edit that leaves its reading as it is is zero and changes no bit of the logits, another edit
 * changes them; the unedited pass reads the same activations as the probe capture).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureFeatures, closeCapture } from '../../probes/capture.js';
import { parseSquare, tokenOfSquare } from '../../games/othello/notation.js';
import { probedGames } from '../../probes/game-points.js';
import { chooseSites, editScores, logitsAtSites, probeEdit, type EditSite } from '../../probes/intervene.js';
import { zeroProbe } from '../../probes/linear-probe.js';
import { SQUARES } from '../../probes/targets.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { configFromPreset } from '../../src/model/config.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { Rng } from '../../src/util/rng.js';
import { gpu, noGpuReason, toleranceRatio } from '../backend/webgpu/gpu-fixture.js';

const L = 60;
const tokens = (...names: string[]) => names.map((n) => tokenOfSquare(parseSquare(n)));
const record = (...names: string[]) => {
  const r = new Uint8Array(L);
  r.set(tokens(...names));
  return r;
};

describe('chooseSites', () => {
  // After black's f5: white d4, black e4 d5 e5 f5, white to move with d6 f4 f6. Flipping d4 leaves no
  // white disc (game over); each other flip, worked out by hand, gives white these moves.
  const game = record('f5');
  const probed = probedGames('othello', 'mine-theirs', game, L, 'test');
  const flipped: Record<string, string[]> = {
    e4: ['c6', 'd6', 'e6', 'f6', 'g6'],
    d5: ['f3', 'f4', 'f6', 'g5'],
    e5: ['c5', 'd6', 'e3', 'f4', 'g5'],
    f5: ['c5', 'd3', 'd6', 'f4', 'f6'],
  };

  it('draws an edit that changes the legal moves, with the moves of the engine on both boards', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 24; seed++) {
      const [site, ...rest] = chooseSites(game, L, probed, 'flip', seed);
      expect(rest).toEqual([]);
      const name = Object.keys(flipped).find((n) => parseSquare(n) === site.square);
      expect(name, `seed ${seed} flipped square ${site.square}`).toBeDefined();
      seen.add(name!);
      expect(site).toMatchObject({ game: 0, point: 0, at: 0 });
      expect(site.legalOriginal).toEqual(tokens('d6', 'f4', 'f6').sort((a, b) => a - b));
      expect(site.legalEdited).toEqual(tokens(...flipped[name!]).sort((a, b) => a - b));
      // Black just moved: black's discs are "mine" (1), and the flip makes them "theirs" (2).
      expect([site.from, site.to]).toEqual([1, 2]);
    }
    expect([...seen].sort()).toEqual(Object.keys(flipped).sort());
  });

  it('finds no emptying edit there: d4 ends the game, f5 leaves the moves as they were, the centre has no move token', () => {
    expect(chooseSites(game, L, probed, 'empty', 1)).toEqual([]);
  });

  it('draws one site per game, the same for the same seed', () => {
    const games = new Uint8Array(3 * L);
    games.set(record('f5', 'd6', 'c3', 'd3', 'c4'), 0);
    games.set(record('f5', 'f6', 'e6', 'f4'), L);
    games.set(record('d3', 'c5', 'f6'), 2 * L);
    const p = probedGames('othello', 'mine-theirs', games, L, 'test');
    const a = chooseSites(games, L, p, 'flip', 5);
    expect(a.map((s) => s.game)).toEqual([0, 1, 2]);
    expect(chooseSites(games, L, p, 'flip', 5)).toEqual(a);
    for (const s of a) expect(s.at).toBe(s.point);
  });
});

describe('probeEdit', () => {
  const D = 24;
  const C = 3;
  const rng = new Rng(4, 1);
  const probe = zeroProbe(D, C);
  for (const a of [probe.weight, probe.bias, probe.mean]) for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  for (let i = 0; i < D; i++) probe.invStd[i] = 0.5 + rng.nextFloat();
  const logitsAt = (x: Float32Array, square: number) => Array.from({ length: C }, (_, k) => {
    let s = probe.bias[square * C + k];
    for (let j = 0; j < D; j++) s += probe.weight[(square * C + k) * D + j] * (x[j] - probe.mean[j]) * probe.invStd[j];
    return s;
  });
  const argmax = (l: number[]) => l.indexOf(Math.max(...l));

  it('makes the probe read the class asked for by the margin the leading class had over it', () => {
    let edited = 0;
    for (let trial = 0; trial < 40; trial++) {
      const x = Float32Array.from({ length: D }, () => 2 * rng.normal());
      const square = rng.nextInt(SQUARES);
      const before = logitsAt(x, square);
      const to = (argmax(before) + 1 + rng.nextInt(C - 1)) % C;
      const lead = Math.max(...before.filter((_, k) => k !== to));
      const edit = probeEdit(probe, x, square, to);
      const after = logitsAt(x.map((v, j) => v + edit.delta[j]), square);
      expect(edit.readsTo).toBe(argmax(after) === to);
      if (!edit.readsTo) continue;
      edited++;
      const gap = Math.min(...after.map((v, k) => (k === to ? Infinity : after[to] - v)));
      expect(gap).toBeCloseTo(lead - before[to], 3);
      expect(edit.otherChanged).toBeGreaterThanOrEqual(0);
    }
    // A third class can stay ahead along the two classes' direction, but rarely.
    expect(edited).toBeGreaterThan(30);
  });

  it('scales the edit by the strength', () => {
    const x = Float32Array.from({ length: D }, () => rng.normal());
    const square = 9;
    const to = (argmax(logitsAt(x, square)) + 1) % C;
    const once = probeEdit(probe, x, square, to).delta;
    const twice = probeEdit(probe, x, square, to, 2).delta;
    twice.forEach((v, j) => expect(v).toBeCloseTo(2 * once[j], 5));
    expect(once.some((v) => v !== 0)).toBe(true);
  });

  it('gives no edit where the probe already reads the class asked for', () => {
    for (let trial = 0; trial < 10; trial++) {
      const x = Float32Array.from({ length: D }, () => rng.normal());
      const square = rng.nextInt(SQUARES);
      const edit = probeEdit(probe, x, square, argmax(logitsAt(x, square)));
      expect(edit.delta.every((v) => v === 0)).toBe(true);
      expect(edit).toMatchObject({ readsTo: true, otherChanged: 0 });
    }
  });
});

describe('the edit passes', () => {
  const be = new CpuBackend({ threads: 1 });
  const games = new Uint8Array(2 * L);
  games.set(record('f5', 'd6', 'c3', 'd3', 'c4'), 0);
  games.set(record('f5', 'f6', 'e6', 'f4'), L);
  const probed = probedGames('othello', 'mine-theirs', games, L, 'test');
  const sites = chooseSites(games, L, probed, 'flip', 3);

  for (const preset of ['tiny', 'quickstart-gpt']) {
    const config = configFromPreset(preset, 61, L - 1);
    const model = createModel(be, config, initModelParameters(config, new Rng(3, 1)));
    const sources = preset === 'tiny' ? (['residual', 'state'] as const) : (['residual'] as const);

    it(`${preset}: the unedited pass reads the activations the probe capture reads`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gamba-intervene-'));
      try {
        const keep = Object.fromEntries(sources.map((s) => [s, null]));
        const captured = await captureFeatures(model, games, L, { dir, name: 'c', batch: 2, points: probed.map((p) => p.at), keep, layers: [1] });
        const base = await logitsAtSites(model, games, L, sites, 2, [null], sources.map((source) => ({ source, layer: 1 })));
        expect(captured.map((c) => c.source)).toEqual([...sources]);
        for (const c of captured) {
          const [chunk] = c.files[0].chunks(c.index.rows);
          const rows = chunk.data;
          const width = c.files[0].dim;
          sites.forEach((site, i) => {
            const r = Array.from(c.index.game).findIndex((g, k) => g === site.game && c.index.at[k] === site.at);
            expect(Array.from(base.captured.get(`${c.source}:1`)!.subarray(i * width, (i + 1) * width))).toEqual(Array.from(rows.subarray(r * width, (r + 1) * width)));
          });
        }
        closeCapture(captured);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    for (const source of sources) {
      it(`${preset}: a ${source} edit that leaves the probe's reading as it is changes no bit, another edit changes the logits of its site`, async () => {
        const layer = 1;
        const base = await logitsAtSites(model, games, L, sites, 2, [null], [{ source, layer }]);
        const activations = base.captured.get(`${source}:${layer}`)!;
        const width = activations.length / sites.length;
        // A probe of random weights, asked for the class it already reads at each site's square.
        const probe = zeroProbe(width, 3);
        const r = new Rng(8, 1);
        for (const a of [probe.weight, probe.bias]) for (let i = 0; i < a.length; i++) a[i] = r.normal();
        const zeros = sites.map((site, i) => {
          const x = activations.subarray(i * width, (i + 1) * width);
          const reads = (k: number) => {
            let v = probe.bias[site.square * 3 + k];
            for (let j = 0; j < width; j++) v += probe.weight[(site.square * 3 + k) * width + j] * x[j];
            return v;
          };
          const current = [0, 1, 2].reduce((best, k) => (reads(k) > reads(best) ? k : best), 0);
          const edit = probeEdit(probe, x, site.square, current);
          expect(edit.readsTo).toBe(true);
          return edit.delta;
        });
        expect(zeros.every((d) => d.every((v) => v === 0))).toBe(true);
        const pushed = sites.map((_, i) => Float32Array.from({ length: width }, (_, j) => (i === 0 ? 0.5 * Math.sin(j + 1) : 0)));
        const pass = await logitsAtSites(model, games, L, sites, 1, [{ source, layer, deltas: zeros }, { source, layer, deltas: pushed }], []);
        expect(Array.from(pass.logits[0])).toEqual(Array.from(base.logits[0]));
        const V = config.vocab_size;
        const changed = (i: number) => pass.logits[1].subarray(i * V, (i + 1) * V).some((v, k) => v !== base.logits[0][i * V + k]);
        expect(changed(0)).toBe(true);
        expect(changed(1)).toBe(false);
      });
    }
  }

  describe.skipIf(!gpu)(`on webgpu${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
    it('tiny: residual and state edits give the cpu backend\'s logits', async () => {
      const config = configFromPreset('tiny', 61, L - 1);
      const params = initModelParameters(config, new Rng(3, 1));
      const onCpu = createModel(be, config, params);
      const onGpu = createModel(gpu!, config, params);
      for (const source of ['residual', 'state'] as const) {
        const width = source === 'residual' ? config.d_model : 2 * config.d_model * config.d_state;
        const deltas = sites.map((_, i) => Float32Array.from({ length: width }, (_, j) => 0.4 * Math.sin(i + j + 1)));
        const variants = [null, { source, layer: 1, deltas }];
        const expected = await logitsAtSites(onCpu, games, L, sites, 2, variants, []);
        const actual = await logitsAtSites(onGpu, games, L, sites, 2, variants, []);
        for (const v of [0, 1]) expect(toleranceRatio(actual.logits[v], expected.logits[v], 1e-4, 1e-3)).toBeLessThanOrEqual(1);
      }
    });
  });

  it('scores top-1 and top-k against both boards', () => {
    const site: EditSite = { game: 0, point: 0, at: 0, square: 0, from: 1, to: 2, legalOriginal: [1, 2], legalEdited: [3, 4, 5] };
    const logits = new Float32Array(8);
    logits.set([0, 0.1, 0.5, 0.9, 0.8, 0.2, 0, 0]);
    expect(editScores(logits, [site], 8)).toEqual({ top1LegalEdited: 1, top1LegalOriginal: 0, overlapEdited: 2 / 3, overlapOriginal: 0 });
  });
});
