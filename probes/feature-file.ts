/**
 * A float32 feature matrix streamed to a file: rows are appended as the capture produces them (through a
 * write buffer) and read back in chunks, so 10,000+ games of activations never have to be in memory at
 * once. Files live in a scratch directory that the caller removes.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { RowChunk, RowSource } from './row-source.js';

const WRITE_BUFFER_BYTES = 4 << 20;

export class FeatureFile implements RowSource {
  private fd: number | null;
  private rowCount = 0;
  private readonly buffer: Float32Array;
  private buffered = 0;

  constructor(
    readonly path: string,
    readonly dim: number,
  ) {
    this.fd = openSync(path, 'w+');
    this.buffer = new Float32Array(Math.max(dim, Math.floor(WRITE_BUFFER_BYTES / 4 / dim) * dim));
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Appends `rows` rows of `data` ((rows, dim) from `offset` values in). */
  append(data: Float32Array, rows: number, offset = 0): void {
    const n = rows * this.dim;
    if (offset + n > data.length) throw new Error(`FeatureFile.append: ${rows} rows of ${this.dim} past the end of ${data.length} values`);
    let done = 0;
    while (done < n) {
      const take = Math.min(n - done, this.buffer.length - this.buffered);
      this.buffer.set(data.subarray(offset + done, offset + done + take), this.buffered);
      this.buffered += take;
      done += take;
      if (this.buffered === this.buffer.length) this.flush();
    }
    this.rowCount += rows;
  }

  private flush(): void {
    if (this.buffered === 0) return;
    const bytes = new Uint8Array(this.buffer.buffer, 0, this.buffered * 4);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.handle(), bytes, written, bytes.length - written, null);
    this.buffered = 0;
  }

  private handle(): number {
    if (this.fd === null) throw new Error(`${this.path}: feature file is closed`);
    return this.fd;
  }

  *chunks(maxRows: number): Iterable<RowChunk> {
    this.flush();
    const rowsPerChunk = Math.max(1, Math.min(maxRows, this.rowCount));
    const data = new Float32Array(rowsPerChunk * this.dim);
    const bytes = new Uint8Array(data.buffer);
    for (let start = 0; start < this.rowCount; start += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, this.rowCount - start);
      const length = rows * this.dim * 4;
      let got = 0;
      while (got < length) {
        const n = readSync(this.handle(), bytes, got, length - got, start * this.dim * 4 + got);
        if (n <= 0) throw new Error(`${this.path}: feature file ended at row ${start} of ${this.rowCount}`);
        got += n;
      }
      yield { data: data.subarray(0, rows * this.dim), start, rows };
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
