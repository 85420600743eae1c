/**
 * The model card (README.md) of an exported model: what the model is, what it was trained on, how far,
 * and what it scores, gathered from whatever the checkpoint directory holds (trainer-state.json,
 * metrics.jsonl, eval.json, probe reports). Anything missing is left out, never guessed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../datasets/format.js';
import type { ModelConfig } from '../model/config.js';
import { METRICS_FILE, STATE_FILE } from './checkpoint.js';

export interface ModelCardFacts {
  name: string;
  config: ModelConfig;
  game: string | null;
  preset: string | null;
  parameters: number;
  dtype: string;
  training: { steps: number; batch: number | null; tokens: number | null; data: string | null; games: number | null; seconds: number | null } | null;
  loss: { train: number | null; val: number | null } | null;
  eval: { legalTop1: number; positions: number; games: number } | null;
  probes: { target: string; source: string; layer: number; cellAcc: number; boardAcc: number; randomInitCellAcc: number | null }[];
}

function readJson(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** The last metrics.jsonl line with a step, and the last validation loss logged. */
function lastMetrics(dir: string): { step: number; loss: number | null; valLoss: number | null } | null {
  const path = join(dir, METRICS_FILE);
  if (!existsSync(path)) return null;
  let last: { step: number; loss: number | null; valLoss: number | null } | null = null;
  let valLoss: number | null = null;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      const step = num(row.step);
      if (step === null) continue;
      last = { step, loss: num(row.loss), valLoss: null };
      valLoss = num(row.valLoss) ?? valLoss;
    } catch {
      // A line cut short by a kill: the lines before it still count.
    }
  }
  return last ? { ...last, valLoss } : null;
}

/** What the checkpoint directory says about the model's training and scores. */
export function gatherModelCardFacts(dir: string, base: Pick<ModelCardFacts, 'name' | 'config' | 'game' | 'preset' | 'parameters' | 'dtype'>): ModelCardFacts {
  const state = readJson(join(dir, STATE_FILE));
  const run = (state?.run ?? null) as Record<string, unknown> | null;
  const metrics = lastMetrics(dir);
  let training: ModelCardFacts['training'] = null;
  const steps = num(state?.step) ?? metrics?.step ?? null;
  if (steps !== null) {
    const batch = num(run?.batch);
    const data = typeof run?.data === 'string' ? run.data : null;
    const manifest = data ? readJson(join(data, MANIFEST_FILE)) : null;
    const length = num(manifest?.recordLength);
    const counts = manifest?.counts as Record<string, unknown> | undefined;
    training = {
      steps,
      batch,
      tokens: batch !== null && length !== null ? steps * batch * (length - 1) : null,
      data,
      games: num(counts?.train),
      seconds: num(state?.trainSeconds),
    };
  }
  const history = state?.lossHistory;
  const trainLoss = Array.isArray(history) && history.length > 0 ? num(history[history.length - 1]) : (metrics?.loss ?? null);
  const valHistory = state?.valHistory;
  const lastVal = Array.isArray(valHistory) && valHistory.length > 0 ? (valHistory[valHistory.length - 1] as Record<string, unknown>) : null;
  const valLoss = num(lastVal?.loss) ?? metrics?.valLoss ?? null;
  const evalJson = readJson(join(dir, 'eval.json'));
  const legal = num(evalJson?.legalTop1);
  const probes: ModelCardFacts['probes'] = [];
  for (const entry of existsSync(dir) ? readdirSync(dir).sort() : []) {
    if (!entry.startsWith('probe-') || !statSync(join(dir, entry)).isDirectory()) continue;
    const report = readJson(join(dir, entry, 'report.json'));
    const best = report?.best as { source?: string; layer?: number } | undefined;
    const layers = report?.layers as { source: string; layer: number; cellAcc: number; boardAcc: number; margin?: { cellAcc?: number } }[] | undefined;
    const row = layers?.find((l) => l.source === best?.source && l.layer === best?.layer);
    if (!row || typeof report?.target !== 'string') continue;
    const margin = num(row.margin?.cellAcc);
    probes.push({ target: report.target, source: row.source, layer: row.layer, cellAcc: row.cellAcc, boardAcc: row.boardAcc, randomInitCellAcc: margin === null ? null : row.cellAcc - margin });
  }
  return {
    ...base,
    training,
    loss: trainLoss !== null || valLoss !== null ? { train: trainLoss, val: valLoss } : null,
    eval: legal !== null ? { legalTop1: legal, positions: num(evalJson?.positions) ?? 0, games: num(evalJson?.games) ?? 0 } : null,
    probes,
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const count = (x: number): string => x.toLocaleString('en-US');

const GAME_NAMES: Record<string, string> = { othello: 'Othello', chess: 'chess' };

const TOKENS: Record<string, string> = {
  othello: 'the Othello-GPT vocabulary: the 60 playable squares (a1..h8 without the four centre squares) are ids 1..60 in square order, 0 is padding; a game is its moves in order, passes implied',
  chess: "the 32 characters ` #+-.0123456789;=BKNOQRabcdefghx` (ids 0..31) of the game string `;1.e4 e5 2.Nf3 ...`, one character a token",
};

/** README.md of the exported directory: YAML front matter for the Hugging Face hub, then the card. */
export function modelCardText(facts: ModelCardFacts): string {
  const c = facts.config;
  const gpt = c.architecture === 'transformer';
  const hfClass = gpt ? 'GPT2LMHeadModel' : 'MambaForCausalLM';
  const tags = [gpt ? 'gpt2' : 'mamba', 'gamba', ...(facts.game ? [facts.game] : [])];
  const table = gpt
    ? [
        `| parameters | d_model | layers | heads | context | vocabulary | weights |`,
        `|---|---|---|---|---|---|---|`,
        `| ${count(facts.parameters)} | ${c.d_model} | ${c.n_layers} | ${c.n_heads} | ${c.n_positions} | ${c.vocab_size} | ${facts.dtype} |`,
      ]
    : [
        `| parameters | d_model | layers | d_state | expand | conv kernel | dt rank | vocabulary | weights |`,
        `|---|---|---|---|---|---|---|---|---|`,
        `| ${count(facts.parameters)} | ${c.d_model} | ${c.n_layers} | ${c.d_state} | ${c.expand} | ${c.d_conv} | ${c.dt_rank} | ${c.vocab_size} | ${facts.dtype} |`,
      ];
  const lines = [
    '---',
    'library_name: transformers',
    'pipeline_tag: text-generation',
    'tags:',
    ...tags.map((tag) => `- ${tag}`),
    '---',
    '',
    `# ${facts.name}`,
    '',
    `A ${gpt ? 'transformer (GPT-2)' : 'Mamba'} language model${facts.game ? ` of ${GAME_NAMES[facts.game] ?? facts.game} games` : ''}, trained with gamba by next-move prediction` +
      `${facts.preset ? ` (preset \`${facts.preset}\`)` : ''}. It loads in Hugging Face transformers as \`${hfClass}\`.`,
    '',
    '## Model',
    '',
    ...table,
    '',
  ];
  if (facts.game && TOKENS[facts.game]) lines.push(`Tokens: ${TOKENS[facts.game]}.`, '');
  lines.push('## Training', '');
  const t = facts.training;
  if (t) {
    const parts = [`${count(t.steps)} steps`];
    if (t.batch !== null) parts.push(`batch ${count(t.batch)} games`);
    if (t.tokens !== null) parts.push(`${count(t.tokens)} training tokens`);
    if (t.seconds !== null) parts.push(`${(t.seconds / 60).toFixed(1)} minutes of training`);
    lines.push(`- ${parts.join(', ')}.`);
    if (t.data) lines.push(`- Data: \`${t.data}\`${t.games !== null ? ` (${count(t.games)} training games)` : ''}.`);
  } else {
    lines.push('- Not recorded in the checkpoint.');
  }
  if (facts.loss) {
    const parts = [];
    if (facts.loss.train !== null) parts.push(`final training loss ${facts.loss.train.toFixed(4)}`);
    if (facts.loss.val !== null) parts.push(`validation loss ${facts.loss.val.toFixed(4)}`);
    lines.push(`- ${parts.join(', ')} (nats per token).`);
  }
  lines.push('', '## Results', '');
  if (facts.eval) lines.push(`- Top-1 legal-move rate: ${pct(facts.eval.legalTop1)} over ${count(facts.eval.positions)} positions of ${count(facts.eval.games)} held-out games (\`gamba eval\`).`);
  for (const p of facts.probes) {
    lines.push(
      `- Linear board probe (\`${p.target}\`), best layer: ${p.source} layer ${p.layer}, ${pct(p.cellAcc)} of squares and ${pct(p.boardAcc)} of whole boards` +
        `${p.randomInitCellAcc !== null ? ` (the same probe on a randomly initialised model: ${pct(p.randomInitCellAcc)} of squares)` : ''} (\`gamba probe\`).`,
    );
  }
  if (!facts.eval && facts.probes.length === 0) lines.push('- None recorded in the checkpoint (run `gamba eval` and `gamba probe`).');
  lines.push(
    '',
    '## Use',
    '',
    '```python',
    `from transformers import ${hfClass}`,
    `model = ${hfClass}.from_pretrained("path/to/this/directory")`,
    '```',
    '',
    '```sh',
    'npx gamba eval --checkpoint path/to/this/directory --data DATASET',
    'npx gamba probe --checkpoint path/to/this/directory --data DATASET',
    '```',
    '',
    '`SHA256SUMS` holds the hashes of `model.safetensors` and `config.json`; gamba checks them on every load.',
    '',
  );
  return lines.join('\n');
}
