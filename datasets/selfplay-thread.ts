/**
 * Worker thread of engine self-play (engine-selfplay.ts): rebuilds the game's source from its module,
 * starts its share of the engines and plays the games the main thread hands out, one claim at a time,
 * sending each finished record back (moved, not copied). Runs only from the compiled dist/ tree.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EngineSlots, serializeError, type MainMessage, type SelfPlayEngine, type SelfPlaySource, type ThreadData, type ThreadMessage } from './engine-selfplay.js';

if (!parentPort) throw new Error('selfplay-thread.js must run as a worker thread');
const port = parentPort;
const data = workerData as ThreadData;
const send = (message: ThreadMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

const { selfPlaySource } = (await import(data.url)) as { selfPlaySource: (options: unknown) => SelfPlaySource<SelfPlayEngine> };
const slots = new EngineSlots(selfPlaySource(data.options), data.engines);
const answers: ((index: number | null) => void)[] = [];
port.on('message', (message: MainMessage) => {
  if (message.type === 'kill') {
    slots.kill();
    port.close();
  } else answers.shift()!(message.index);
});

async function run(): Promise<void> {
  try {
    send({ type: 'started', names: await slots.start() });
  } catch (error) {
    send({ type: 'refused', error: serializeError(error) });
    return;
  }
  await slots.play({
    claim: () => new Promise((resolve) => {
      answers.push(resolve);
      send({ type: 'claim' });
    }),
    deliver: (index, game) => send({ type: 'game', index, game }, game.record ? [game.record.buffer as ArrayBuffer] : []),
    fail: (error) => send({ type: 'failed', error: serializeError(error) }),
  });
  send({ type: 'finished' });
}

await run();
port.close();
