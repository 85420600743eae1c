/**
 * Worker thread of `gamba generate`: answers each ChunkRequest with its ChunkResult, moving the record
 * buffers back to the main thread (no copy). Runs only from the compiled dist/ tree.
 */
import { parentPort } from 'node:worker_threads';
import { generateChunk, type ChunkRequest } from './generate-chunk.js';
import { DATASET_GAMES } from './games.js';

if (!parentPort) throw new Error('generate-worker.js must run as a worker thread');
const port = parentPort;
port.on('message', (request: ChunkRequest) => {
  const result = generateChunk(DATASET_GAMES[request.game], request);
  port.postMessage(result, [result.train.buffer, result.val.buffer] as ArrayBuffer[]);
});
