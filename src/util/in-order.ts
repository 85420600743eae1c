/**
 * Items numbered 0, 1, 2, ... that finish in any order (games played side by side), handed on in their
 * numbers' order as soon as every item before them is in; what still waits behind a gap when the work
 * stops early can be taken, in order, with `rest()`.
 */
export class InOrder<T> {
  private readonly waiting = new Map<number, T>();
  private next = 0;

  constructor(private readonly handOn: (item: T) => void) {}

  /** Item `index` is done: hands it on, with those after it that were waiting for it. */
  put(index: number, item: T): void {
    this.waiting.set(index, item);
    for (let ready = this.waiting.get(this.next); ready !== undefined; ready = this.waiting.get(this.next)) {
      this.waiting.delete(this.next++);
      this.handOn(ready);
    }
  }

  /** The items still waiting behind a gap, in index order; they are no longer waiting afterwards. */
  rest(): T[] {
    const indices = [...this.waiting.keys()].sort((a, b) => a - b);
    const items = indices.map((index) => this.waiting.get(index)!);
    this.waiting.clear();
    return items;
  }
}
