/**
 * Feature rows for fitting and scoring probes, read in chunks so that a probe can be fitted on more
 * activations than fit in memory: a RowSource is a (rows, dim) float32 matrix that is only ever seen a
 * chunk of rows at a time, in row order.
 */

export interface RowChunk {
  /** (rows, dim) row-major; valid until the next chunk is read (buffers are reused). */
  data: Float32Array;
  /** Index of the chunk's first row. */
  start: number;
  rows: number;
}

export interface RowSource {
  readonly rows: number;
  readonly dim: number;
  /** The rows in order, at most `maxRows` per chunk. */
  chunks(maxRows: number): Iterable<RowChunk>;
}

/**
 * Rows per chunk so that one chunk holds about `bytes` of float32 features: at least 64 rows, and at
 * most 16,384 (a narrow source's chunk is a batch of backend work, not a whole file).
 */
export function chunkRowsFor(dim: number, bytes = 32 << 20): number {
  return Math.min(16384, Math.max(64, Math.floor(bytes / (4 * dim))));
}

/** A RowSource over a matrix already in memory. */
export class MemoryRows implements RowSource {
  constructor(
    readonly data: Float32Array,
    readonly rows: number,
    readonly dim: number,
  ) {
    if (data.length !== rows * dim) throw new Error(`MemoryRows: ${data.length} values for ${rows} x ${dim}`);
  }

  *chunks(maxRows: number): Iterable<RowChunk> {
    for (let start = 0; start < this.rows; start += maxRows) {
      const rows = Math.min(maxRows, this.rows - start);
      yield { data: this.data.subarray(start * this.dim, (start + rows) * this.dim), start, rows };
    }
  }
}
