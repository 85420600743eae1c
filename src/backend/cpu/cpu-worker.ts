/** Entry point of a cpu backend worker thread (started by thread-pool.ts). */
import { workerData } from 'node:worker_threads';
import { serveTasks } from './thread-pool.js';

serveTasks(workerData);
