/**
 * A dataset's Othello games with their symmetric images (games/othello/symmetry.ts): each train game is
 * written followed by its images under the board symmetries that keep the opening position, four games
 * for one; held-out games are copied as they are, so validation stays on games the model never saw in
 * any orientation.
 */
import { copyGames } from './merge.js';
import { openDataset } from './reader.js';
import type { DatasetManifest } from './format.js';
import { OPENING_SYMMETRIES, withSymmetricImages } from '../games/othello/symmetry.js';
import { UserError } from '../src/util/errors.js';

export async function addSymmetricImages(dir: string, out: string, force: boolean): Promise<DatasetManifest> {
  const dataset = openDataset(dir);
  try {
    const m = dataset.manifest;
    if (m.game !== 'othello') throw new UserError(`${dir}: a ${m.game} dataset: only Othello games have board symmetries that keep the opening position`);
    const copies = OPENING_SYMMETRIES.length;
    const source = `${dir} (${m.source}, seed ${m.seed}, ${m.counts.train + m.counts.val} games) with each train game's ${copies - 1} symmetric images`;
    return await copyGames([dataset], out, force, source, (records) => withSymmetricImages(records, m.recordLength), copies);
  } finally {
    dataset.close();
  }
}
