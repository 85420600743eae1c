/**
 * The report directory of a probe run:
 *   report.json                        every number (report.ts)
 *   report.html                        the page drawn from it (report-html.ts)
 *   probes/<source>-layer<i>.safetensors  the trained model's fitted probes (linear-probe.ts)
 * Each file is written atomically; report.json goes last, so a directory with a report.json is complete.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../src/util/errors.js';
import type { FeatureSource } from './capture.js';
import { saveProbe, type LinearProbe } from './linear-probe.js';
import { renderReportHtml } from './report-html.js';
import { readReport, REPORT_HTML, REPORT_JSON, type ProbeReport } from './report.js';
import { writeFileAtomic } from '../src/util/write-file-atomic.js';

export const PROBES_DIR = 'probes';
const PROBE_FILE = /^(residual|state)-layer\d+\.safetensors$/;

export function probeFileName(source: FeatureSource, layer: number): string {
  return `${source}-layer${layer}.safetensors`;
}

/**
 * Refuses to replace a finished report (its `json` file: report.json, or compare.json of a comparison)
 * unless forced; call before the (long) run.
 */
export function checkReportDir(dir: string, force: boolean, json = REPORT_JSON): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError(`--out ${dir}: exists and is not a directory`);
  if (!force && existsSync(join(dir, json))) throw new UserError(`--out ${dir}: already holds ${json} (use --force to replace it)`);
}

/** Writes probes, report.json and report.html into `dir`; fills report.probes with the probe files. */
export function writeReportDir(dir: string, report: ProbeReport, probes: { source: FeatureSource; layer: number; probe: LinearProbe }[]): void {
  const probesDir = join(dir, PROBES_DIR);
  mkdirSync(probesDir, { recursive: true });
  // Probe files of an earlier run in this directory would not match the new report.
  for (const name of readdirSync(probesDir)) if (PROBE_FILE.test(name)) rmSync(join(probesDir, name));
  report.probes = [];
  for (const { source, layer, probe } of probes) {
    const file = join(PROBES_DIR, probeFileName(source, layer));
    saveProbe(join(dir, file), probe);
    report.probes.push({ source, layer, file });
  }
  writeFileAtomic(join(dir, REPORT_HTML), renderReportHtml(report));
  writeFileAtomic(join(dir, REPORT_JSON), JSON.stringify(report, null, 1) + '\n');
}

/** `gamba report DIR`: redraws DIR/report.html from DIR/report.json. Returns the page's path. */
export function rerenderReport(dir: string): string {
  if (!existsSync(dir)) throw new UserError(`${dir}: no such report directory`);
  const jsonPath = statSync(dir).isDirectory() ? join(dir, REPORT_JSON) : dir;
  const report = readReport(jsonPath);
  const htmlPath = join(dirname(jsonPath), REPORT_HTML);
  writeFileAtomic(htmlPath, renderReportHtml(report));
  return htmlPath;
}
