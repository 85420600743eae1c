/**
 * Worker threads for the cpu backend, driven synchronously: the Backend ops are synchronous, so the
 * main thread publishes a task in shared memory, wakes the workers with Atomics.notify, claims chunks
 * itself like any worker, and blocks in Atomics.wait until every chunk is done. Chunks are claimed one
 * at a time from a shared counter, so a worker that the (shared, busy) machine does not schedule only
 * leaves more chunks to the others; which thread runs a chunk never changes the result
 * (parallel-kernels.ts).
 *
 * Tensors live in SharedArrayBuffers. A buffer is sent to the workers (port message) the first time a
 * task uses it, and dropped there once the main thread has garbage-collected it.
 *
 * Control words (Int32Array on a SharedArrayBuffer):
 *   NEXT      generation << 16 | next unclaimed chunk; a claim is a compare-exchange on this word, so
 *             a worker still holding an older task's arguments can never claim a chunk of a newer one
 *   DONE      chunks finished (the last finisher notifies it)
 *   GEN       generation of the task being published (15 bits, wrapping)
 *   MESSAGES  buffer messages posted so far: a woken worker reads them all before decoding the task
 *   FAILED    set by a worker whose chunk threw
 *   BY_WORKERS chunks run by worker threads so far (a statistic)
 *   WAKE + w  bumped and notified to wake worker w
 * A task's op, chunk count and arguments go to one of two slots by generation parity, so publishing
 * task g + 1 never overwrites the slot a late worker may still be reading for task g.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { runChunk, type SharedArray, type TaskArgs } from './parallel-kernels.js';

const NEXT = 0;
const DONE = 1;
const GEN = 2;
const MESSAGES = 3;
const FAILED = 4;
const BY_WORKERS = 5;
const WAKE = 8;
const MAX_WORKERS = 48;
const SLOT = 64;
const SLOT_SIZE = 128;
const CONTROL_SIZE = SLOT + 2 * SLOT_SIZE;
const MAX_ARRAYS = 16;
const MAX_INTS = 16;
const MAX_FLOATS = 16;
/** Chunk indexes live in the low 16 bits of NEXT. */
export const MAX_CHUNKS = 0xffff;
// Slot layout: [op, chunks, arrayCount, intCount, floatCount, arrays (4 words each), ints]
const SLOT_ARRAYS = 5;
const SLOT_INTS = SLOT_ARRAYS + 4 * MAX_ARRAYS;

const TYPE_F32 = 0;
const TYPE_I32 = 1;
const TYPE_F64 = 2;

/** What a worker is started with. */
interface WorkerSetup {
  control: Int32Array;
  floats: Float64Array;
  port: MessagePort;
  index: number;
}

type BufferMessage = { add: number; buffer: SharedArrayBuffer } | { drop: number };

function typeCode(a: SharedArray): number {
  if (a instanceof Float32Array) return TYPE_F32;
  if (a instanceof Int32Array) return TYPE_I32;
  return TYPE_F64;
}

function view(buffer: SharedArrayBuffer, type: number, byteOffset: number, length: number): SharedArray {
  if (type === TYPE_F32) return new Float32Array(buffer, byteOffset, length);
  if (type === TYPE_I32) return new Int32Array(buffer, byteOffset, length);
  return new Float64Array(buffer, byteOffset, length);
}

/** Claims the next chunk of generation `gen` (of `chunks`), or returns -1 when there is none left. */
function claim(control: Int32Array, gen: number, chunks: number): number {
  for (;;) {
    const word = Atomics.load(control, NEXT);
    if (word >>> 16 !== gen) return -1;
    const chunk = word & 0xffff;
    if (chunk >= chunks) return -1;
    if (Atomics.compareExchange(control, NEXT, word, word + 1) === word) return chunk;
  }
}

/**
 * Runs chunks of the published task until none are left, counting each one done (also one that
 * threw: the task must end either way); returns the first error.
 */
function work(control: Int32Array, gen: number, op: number, args: TaskArgs, chunks: number, isWorker: boolean): unknown {
  let failure: unknown = null;
  for (let chunk = claim(control, gen, chunks); chunk >= 0; chunk = claim(control, gen, chunks)) {
    try {
      runChunk(op, args, chunk);
    } catch (error) {
      Atomics.store(control, FAILED, 1);
      failure ??= error;
    }
    if (isWorker) Atomics.add(control, BY_WORKERS, 1);
    if (Atomics.add(control, DONE, 1) + 1 === chunks) Atomics.notify(control, DONE);
  }
  return failure;
}

export class ThreadPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SIZE * 4));
  private readonly floats = new Float64Array(new SharedArrayBuffer(2 * MAX_FLOATS * 8));
  private readonly ports: MessagePort[] = [];
  private readonly workers: Worker[] = [];
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private readonly finalizer = new FinalizationRegistry<number>((id) => this.post({ drop: id }));
  private nextId = 1;
  private messages = 0;
  private gen = 0;

  /** Starts `count` workers; they load in the background, and tasks do not wait for them. */
  private constructor(script: URL, count: number) {
    for (let index = 0; index < count; index++) {
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { control: this.control, floats: this.floats, port: port2, index };
      const worker = new Worker(script, { workerData: setup, transferList: [port2] });
      // Idle workers must not keep the process alive.
      worker.unref();
      port1.unref();
      this.ports.push(port1);
      this.workers.push(worker);
    }
  }

  /** A pool of `count` workers, or null when the worker script is not there (running from TypeScript sources). */
  static create(count: number): ThreadPool | null {
    if (count > MAX_WORKERS) throw new Error(`at most ${MAX_WORKERS} cpu worker threads`);
    const script = new URL('./cpu-worker.js', import.meta.url);
    return existsSync(fileURLToPath(script)) ? new ThreadPool(script, count) : null;
  }

  /** Number of workers (the calling thread not counted). */
  get size(): number {
    return this.workers.length;
  }

  /** Chunks the workers have run so far. */
  get chunksByWorkers(): number {
    return Atomics.load(this.control, BY_WORKERS);
  }

  private post(message: BufferMessage): void {
    for (const port of this.ports) port.postMessage(message);
    this.messages++;
  }

  /** The id of a shared buffer on the workers, or -1 when the array is not in shared memory. */
  private idOf(array: SharedArray): number {
    const buffer = array.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) return -1;
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(buffer, id);
      this.post({ add: id, buffer });
      this.finalizer.register(buffer, id);
    }
    return id;
  }

  /**
   * Runs every chunk of a task on the calling thread and the first `workers` workers; returns false
   * (having run nothing) when an array is not in shared memory or the arguments do not fit.
   */
  run(op: number, args: TaskArgs, chunks: number, workers: number): boolean {
    const { arrays, ints, floats } = args;
    if (arrays.length > MAX_ARRAYS || ints.length > MAX_INTS || floats.length > MAX_FLOATS || chunks > MAX_CHUNKS) return false;
    workers = Math.min(workers, this.workers.length);
    const ids = arrays.map((a) => this.idOf(a));
    if (ids.includes(-1)) return false;
    const control = this.control;
    this.gen = (this.gen + 1) & 0x7fff;
    const gen = this.gen;
    const slot = SLOT + (gen & 1) * SLOT_SIZE;
    control[slot] = op;
    control[slot + 1] = chunks;
    control[slot + 2] = arrays.length;
    control[slot + 3] = ints.length;
    control[slot + 4] = floats.length;
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      const o = slot + SLOT_ARRAYS + 4 * i;
      control[o] = ids[i];
      control[o + 1] = typeCode(a);
      control[o + 2] = a.byteOffset;
      control[o + 3] = a.length;
    }
    for (let i = 0; i < ints.length; i++) control[slot + SLOT_INTS + i] = ints[i];
    for (let i = 0; i < floats.length; i++) this.floats[(gen & 1) * MAX_FLOATS + i] = floats[i];
    Atomics.store(control, DONE, 0);
    Atomics.store(control, FAILED, 0);
    Atomics.store(control, MESSAGES, this.messages);
    Atomics.store(control, NEXT, gen << 16);
    Atomics.store(control, GEN, gen);
    for (let w = 0; w < workers; w++) {
      Atomics.add(control, WAKE + w, 1);
      Atomics.notify(control, WAKE + w);
    }
    const failure = work(control, gen, op, args, chunks, false);
    for (let done = Atomics.load(control, DONE); done < chunks; done = Atomics.load(control, DONE)) Atomics.wait(control, DONE, done);
    if (failure) throw failure;
    if (Atomics.load(control, FAILED)) throw new Error(`a cpu worker thread failed on task op ${op} (its error is on stderr)`);
    return true;
  }
}

/** The worker side: wait for a task, run chunks of it, repeat (never returns). */
export function serveTasks(setup: WorkerSetup): never {
  const { control, floats, port, index } = setup;
  const buffers = new Map<number, SharedArrayBuffer>();
  let received = 0;
  let wake = Atomics.load(control, WAKE + index);
  for (;;) {
    Atomics.wait(control, WAKE + index, wake);
    wake = Atomics.load(control, WAKE + index);
    const gen = Atomics.load(control, GEN);
    const expected = Atomics.load(control, MESSAGES);
    while (received < expected) {
      const envelope = receiveMessageOnPort(port);
      if (!envelope) continue;
      const message = envelope.message as BufferMessage;
      if ('add' in message) buffers.set(message.add, message.buffer);
      else buffers.delete(message.drop);
      received++;
    }
    const slot = SLOT + (gen & 1) * SLOT_SIZE;
    let op: number, chunks: number, args: TaskArgs;
    try {
      op = control[slot];
      chunks = control[slot + 1];
      const arrays: SharedArray[] = [];
      for (let i = 0; i < control[slot + 2]; i++) {
        const o = slot + SLOT_ARRAYS + 4 * i;
        const buffer = buffers.get(control[o]);
        if (!buffer) throw new Error('unknown buffer');
        arrays.push(view(buffer, control[o + 1], control[o + 2], control[o + 3]));
      }
      const ints = control.slice(slot + SLOT_INTS, slot + SLOT_INTS + control[slot + 3]);
      const f = floats.slice((gen & 1) * MAX_FLOATS, (gen & 1) * MAX_FLOATS + control[slot + 4]);
      args = { arrays, ints, floats: f };
    } catch {
      // The slot was being rewritten for a newer task: this generation is over, nothing to claim.
      continue;
    }
    const failure = work(control, gen, op, args, chunks, true);
    if (failure) console.error(failure);
  }
}
