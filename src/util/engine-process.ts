/**
 * A game engine run as a child process and spoken to line by line (UCI for chess, GTP for Othello).
 * Every wait has a deadline; an engine that exits, fails to start or stops answering turns the wait
 * into a UserError naming the engine, what was awaited and what happened (exit code, signal, the last
 * lines of its stderr), and a hung engine is killed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { UserError } from './errors.js';

interface Waiter {
  accept: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

export class EngineProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdoutRest = '';
  private stderrTail: string[] = [];
  private waiter: Waiter | null = null;
  /** Lines that arrived while nobody waited, oldest first. */
  private readonly backlog: string[] = [];
  private exitReason: string | null = null;

  /** `name` is how messages refer to the engine (e.g. its path). */
  constructor(
    readonly name: string,
    command: string,
    args: string[],
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (text: string) => this.onStdout(text));
    this.child.stderr.on('data', (text: string) => {
      this.stderrTail.push(...text.split('\n').filter((l) => l.trim() !== ''));
      this.stderrTail = this.stderrTail.slice(-3);
    });
    // Writing to an engine that has died raises EPIPE here; the exit handler reports it.
    this.child.stdin.on('error', () => {});
    this.child.on('error', (error) => this.onExit(`could not be started (${error.message})`));
    this.child.on('exit', (code, signal) => this.onExit(signal ? `was killed by ${signal}` : `exited with code ${code}`));
  }

  get alive(): boolean {
    return this.exitReason === null;
  }

  send(line: string): void {
    if (this.exitReason === null) this.child.stdin.write(line + '\n');
  }

  /**
   * The next line (from the backlog or yet to come) that `accept` returns true for; every line before
   * it is shown to `accept` too (which may record it) and then dropped. Rejects when the engine dies or `timeoutMs` passes (`what` names the
   * awaited answer in the message).
   */
  waitFor(accept: (line: string) => boolean, what: string, timeoutMs: number): Promise<string> {
    if (this.waiter) throw new Error(`${this.name}: already waiting for a line`);
    while (this.backlog.length > 0) {
      const line = this.backlog.shift()!;
      if (accept(line)) return Promise.resolve(line);
    }
    if (this.exitReason !== null) return Promise.reject(this.deathError(what));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.kill();
        reject(new UserError(`engine ${this.name} did not answer ${what} within ${timeoutMs} ms (hung?); it was stopped`));
      }, timeoutMs);
      this.waiter = { accept, resolve, reject, timer, what };
    });
  }

  /** Stops the engine (SIGKILL: a hung engine may ignore anything gentler). */
  kill(): void {
    if (this.exitReason !== null) return;
    this.child.kill('SIGKILL');
    this.onExit('was stopped by gamba');
  }

  /** Sends `quitCommand` and waits up to `graceMs` for the exit, then kills. */
  async close(quitCommand: string, graceMs = 2000): Promise<void> {
    if (this.exitReason !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send(quitCommand);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private onStdout(text: string): void {
    const lines = (this.stdoutRest + text).split('\n');
    this.stdoutRest = lines.pop()!;
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      const waiter = this.waiter;
      if (waiter) {
        if (waiter.accept(line)) {
          clearTimeout(waiter.timer);
          this.waiter = null;
          waiter.resolve(line);
        }
      } else {
        this.backlog.push(line);
        if (this.backlog.length > 10_000) this.backlog.shift();
      }
    }
  }

  private onExit(reason: string): void {
    if (this.exitReason !== null) return;
    this.exitReason = reason;
    const waiter = this.waiter;
    if (waiter) {
      clearTimeout(waiter.timer);
      this.waiter = null;
      waiter.reject(this.deathError(waiter.what));
    }
  }

  private deathError(what: string): UserError {
    const stderr = this.stderrTail.length > 0 ? `; its stderr ended: ${this.stderrTail.join(' | ')}` : '';
    return new UserError(`engine ${this.name} ${this.exitReason} while gamba waited for ${what}${stderr}`);
  }
}
