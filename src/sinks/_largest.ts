/**
 * The `limit` items with the largest keys seen, in memory bounded by `limit`: a min-heap whose root is the
 * smallest item kept, so a new item either replaces it or is refused in O(log limit).
 */
export class Largest<T> {
  readonly #limit: number;
  readonly #key: (item: T) => number;
  readonly #heap: T[] = [];

  /** Keeps the `limit` items with the largest `key(item)`. */
  constructor(limit: number, key: (item: T) => number) {
    this.#limit = limit;
    this.#key = key;
  }

  /** Offers an item; it is kept if fewer than `limit` are kept or its key beats the smallest kept. */
  offer(item: T): void {
    const heap = this.#heap;
    if (heap.length < this.#limit) {
      heap.push(item);
      this.#up(heap.length - 1);
    } else if (heap.length > 0 && this.#key(item) > this.#key(heap[0]!)) {
      heap[0] = item;
      this.#down(0);
    }
  }

  /** The kept items, largest key first. */
  sorted(): T[] {
    return this.#heap.slice().sort((a, b) => this.#key(b) - this.#key(a));
  }

  #up(index: number): void {
    const heap = this.#heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#key(heap[parent]!) <= this.#key(heap[index]!)) return;
      [heap[parent], heap[index]] = [heap[index]!, heap[parent]!];
      index = parent;
    }
  }

  #down(index: number): void {
    const heap = this.#heap;
    for (;;) {
      let smallest = index;
      for (const child of [2 * index + 1, 2 * index + 2]) {
        if (child < heap.length && this.#key(heap[child]!) < this.#key(heap[smallest]!)) smallest = child;
      }
      if (smallest === index) return;
      [heap[smallest], heap[index]] = [heap[index]!, heap[smallest]!];
      index = smallest;
    }
  }
}
