/** Command output: one JSON object on stdout with --json, human text otherwise; chatter goes to stderr. */

export function printResult(json: boolean, result: unknown, human: () => string): void {
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(human().replace(/\n?$/, '\n'));
}

/** A line of progress or status on stderr (never mixed into --json output on stdout). */
export function note(message: string): void {
  process.stderr.write(message + '\n');
}

/**
 * A progress bar on stderr, redrawn at most every 200 ms. On a non-TTY stderr it prints a plain line
 * every few seconds instead, so logs stay readable.
 */
export class ProgressBar {
  private lastDraw = 0;
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly start = Date.now();

  constructor(
    private readonly label: string,
    private total: number,
  ) {}

  /** A new total, for work whose size is settled after it started (a --minutes training run). */
  setTotal(total: number): void {
    this.total = total;
  }

  update(done: number, extra = ''): void {
    const now = Date.now();
    if (now - this.lastDraw < (this.tty ? 200 : 5000) && done < this.total) return;
    this.lastDraw = now;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const secs = ((now - this.start) / 1000).toFixed(0);
    const line = `${this.label} [${bar}] ${(fraction * 100).toFixed(0)}% ${done}/${this.total} ${secs}s ${extra}`;
    if (this.tty) process.stderr.write('\r' + line.padEnd(100).slice(0, 100));
    else process.stderr.write(line + '\n');
  }

  finish(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

/** A progress callback for work in named stages: one bar per stage, a new one when the stage changes. */
export function stagedProgress(): (stage: string, done: number, total: number) => void {
  let current: { stage: string; bar: ProgressBar } | null = null;
  return (stage, done, total) => {
    if (!current || current.stage !== stage) current = { stage, bar: new ProgressBar(stage, total) };
    current.bar.update(done);
    if (done === total) current.bar.finish();
  };
}

/** Bytes in binary units with one decimal: "23.5 GiB", "82.3 TiB" (error messages, reports). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
