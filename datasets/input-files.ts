/** The input files of the dataset imports: checked up front, read as bytes (`.gz` decompressed, `/dev/stdin` a pipe). */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UserError } from '../src/util/errors.js';

/** Refuses, before anything is written, a name that is missing or a directory; `kind` names what was expected ("PGN file"). */
export function checkInputFiles(files: readonly string[], kind: string): void {
  for (const file of files) {
    if (!existsSync(file)) throw new UserError(`${file}: no such ${kind}`);
    if (statSync(file).isDirectory()) throw new UserError(`${file}: a directory, not a ${kind}`);
  }
}

/** The bytes of one input file (gunzipped when it ends in .gz); read errors name the file. */
export async function* openText(file: string): AsyncGenerator<Buffer> {
  // Read the process's own stdin stream: opening /dev/stdin fails when stdin is a socket.
  let stream: Readable = file === '/dev/stdin' ? process.stdin : createReadStream(file);
  if (file.endsWith('.gz')) stream = stream.pipe(createGunzip());
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (error) {
    throw new UserError(`${file}: cannot read: ${(error as Error).message}`);
  }
}
