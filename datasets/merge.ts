/**
 * Merging datasets: the games of several dataset directories of one game and record format, one after
 * another in the order given, into a new dataset. Each input's train games stay train and its held-out
 * games stay held out, so no game moves between the splits. Every input shard is checked (size, header,
 * checksum, token range) before anything is written, and the output is built in a temporary directory
 * that replaces `out` only when complete. copyGames, the copy itself, also writes `dataset symmetries`.
 */
import { SPLITS, type DatasetManifest } from './format.js';
import { openDataset, type Dataset } from './reader.js';
import { buildDatasetDirectory, DatasetWriter } from './writer.js';
import { UserError } from '../src/util/errors.js';

/** The fields every input must share: what a record is and how it is read. */
const SHARED_FIELDS = ['game', 'vocabSize', 'recordLength', 'tokenBytes', 'padToken', 'padMode'] as const;

/** Games read and appended at a time. */
const BATCH_GAMES = 4096;

/** The manifest's `source` of a merge: each input's source, seed and game count, in order. */
export function mergedSource(inputs: readonly { dir: string; manifest: DatasetManifest }[]): string {
  const parts = inputs.map(({ dir, manifest: m }) => `${dir} (${m.source}, seed ${m.seed}, ${m.counts.train + m.counts.val} games)`);
  return `merge of ${parts.join('; ')}`;
}

export async function mergeDatasets(dirs: readonly string[], out: string, force: boolean): Promise<DatasetManifest> {
  if (dirs.length < 2) throw new UserError(`dataset merge: name at least two dataset directories (got ${dirs.length})`);
  const datasets: Dataset[] = [];
  try {
    for (const dir of dirs) datasets.push(openDataset(dir));
    const first = datasets[0].manifest;
    datasets.forEach((dataset, i) => {
      for (const field of SHARED_FIELDS) {
        const want = first[field] ?? 'token';
        const got = dataset.manifest[field] ?? 'token';
        if (got !== want) throw new UserError(`${dirs[i]}: ${field} is ${JSON.stringify(got)}, but ${dirs[0]} has ${JSON.stringify(want)}: datasets of different games or record formats cannot be merged`);
      }
    });
    return await copyGames(datasets, out, force, mergedSource(datasets.map((d, i) => ({ dir: dirs[i], manifest: d.manifest }))));
  } finally {
    for (const dataset of datasets) dataset.close();
  }
}

/**
 * Writes the games of `datasets`, split by split and one input after another, into a new dataset at
 * `out` of their record format, with `source` in its manifest. Each block of train games passes through
 * `train` on the way, which may write each game as several (`trainCopies` records a game); held-out
 * games are copied as they are.
 */
export async function copyGames(
  datasets: readonly Dataset[],
  out: string,
  force: boolean,
  source: string,
  train: (records: Uint8Array) => Uint8Array = (records) => records,
  trainCopies = 1,
): Promise<DatasetManifest> {
  const first = datasets[0].manifest;
  const trained = datasets.reduce((sum, d) => sum + d.count('train'), 0) * trainCopies;
  const held = datasets.reduce((sum, d) => sum + d.count('val'), 0);
  return await buildDatasetDirectory(out, force, async (tmp) => {
    const writer = new DatasetWriter(tmp, {
      game: first.game,
      vocabSize: first.vocabSize,
      recordLength: first.recordLength,
      padToken: first.padToken,
      ...(first.padMode ? { padMode: first.padMode } : {}),
      source,
      // The first input's seed: each input's own is in `source`.
      seed: first.seed,
      valFraction: trained + held === 0 ? 0 : held / (trained + held),
      chunkGames: first.chunkGames,
      shardGames: Math.max(...datasets.map((d) => d.manifest.shardGames)),
    });
    for (const split of SPLITS) {
      for (const dataset of datasets) {
        const total = dataset.count(split);
        for (let start = 0; start < total; start += BATCH_GAMES) {
          const records = dataset.readGames(split, start, Math.min(BATCH_GAMES, total - start));
          writer.append(split, split === 'train' ? train(records) : records);
        }
      }
    }
    return writer.finish();
  });
}
