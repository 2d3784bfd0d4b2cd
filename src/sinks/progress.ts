import { createTerminalShare, type ProgressMode, TERMINAL_DRAWN, TERMINAL_OPEN_LINE } from "../protocol.ts";
import { writeSync } from "../runtime/stdio.ts";
import { isTerminal } from "../runtime/tty.ts";
import { formatBarLine, formatPlainLine, percent, type ProgressView } from "./_progress_format.ts";
import { SmoothedRate } from "./_smoothed_rate.ts";
import {
  clearLines,
  lockTerminal,
  setTerminalBlock,
  type TerminalBlock,
  unlockTerminal,
} from "./_terminal.ts";
import type { ProgressRecord, Sink, TelemetryRecord } from "./sink.ts";

/** Options of `progressSink()`; `startTelemetry()` fills them from the `"progress"` sink option. */
export interface ProgressSinkOptions {
  /** `"tty"` redraws a block in place, `"plain"` prints lines; `"auto"` (default) picks by whether stderr is a terminal. */
  readonly mode?: ProgressMode;
  /** Milliseconds between plain lines of one label; more come at every 10% step. Default 5,000. */
  readonly plainInterval?: number;
  /** Terminal width in columns. Default 80. */
  readonly columns?: number;
  /** Terminal height in rows; the block keeps below it. Default 24. */
  readonly rows?: number;
  /** The array shared with the main thread's console guard. Default: one of its own (no guard). */
  readonly terminal?: Int32Array;
}

/** Redraws per second, at most. */
const REDRAW_MS = 100;

interface Stage {
  readonly label: string;
  readonly first: number;
  last: number;
  done: number;
  total: number | undefined;
  readonly rate: SmoothedRate;
  /** Plain mode: when the last line of this stage was printed, its 10% step, and whether it shows the last state. */
  printedAt: number;
  printedDone: number;
  printedStep: number;
  printedLast: boolean;
}

/**
 * Shows the progress records of the run on stderr: one line per label (a stage, or a compute worker) with
 * done/total, percent, rate, elapsed time and ETA, plus a total line when there are several labels. On a terminal
 * the lines are a block redrawn in place at most 10 times a second; elsewhere (a CI log, a pipe) plain lines are
 * printed every `plainInterval` per label and at every 10% step, without escape codes. At close, the last state.
 *
 * The ETA comes from a rate smoothed with a 10 s half-life (`HALF_LIFE_MS`), so irregular progress does not make
 * it jump; a label without a total shows no percent and no ETA.
 *
 * @example Draw progress from synthetic records
 * ```ts
 * import { progressSink } from "./progress.ts";
 *
 * const sink = progressSink({ mode: "plain" });
 * const producer = { id: 0, name: "main" };
 * sink.records?.([{ type: "progress", producer, time: 0, label: "fit", done: 0, total: 10 }]);
 * sink.records?.([{ type: "progress", producer, time: 1000, label: "fit", done: 10, total: 10 }]);
 * await sink.close?.({ startTime: 0, endTime: 1000, deadline: Infinity, producers: [], sinks: [] });
 * ```
 *
 * @param options How to draw; see `ProgressSinkOptions`.
 * @returns The sink.
 */
export function progressSink(options: ProgressSinkOptions = {}): Sink {
  const mode = options.mode ?? "auto";
  const tty = mode === "tty" || (mode === "auto" && isTerminal(2));
  const board = new Board(options.columns ?? 80, options.rows ?? 24);
  return tty
    ? new TerminalProgress(board, options.terminal ?? createTerminalShare())
    : new PlainProgress(board, options.plainInterval ?? 5_000);
}

/** The state of every label, and the lines that show it. */
class Board {
  readonly stages = new Map<string, Stage>();
  readonly #total = new SmoothedRate();
  readonly #columns: number;
  readonly #rows: number;
  #first = Infinity;
  #last = -Infinity;

  constructor(columns: number, rows: number) {
    this.#columns = columns;
    this.#rows = rows;
  }

  /** Takes the progress records among `records`; returns the stages they changed, in order. */
  update(records: readonly TelemetryRecord[]): Stage[] {
    const changed: Stage[] = [];
    for (const record of records) {
      if (record.type !== "progress") continue;
      const stage = this.#stage(record);
      // A stage reported again once complete keeps its final numbers (its rate must not decay, its time stop).
      if (isComplete(stage) && record.done === stage.done && (record.total ?? stage.total) === stage.total) {
        continue;
      }
      stage.done = record.done;
      if (record.total !== undefined) stage.total = record.total;
      stage.last = Math.max(stage.last, record.time);
      stage.rate.update(record.time, record.done);
      stage.printedLast = false;
      this.#first = Math.min(this.#first, stage.first);
      this.#last = Math.max(this.#last, record.time);
      this.#total.update(record.time, this.#sumDone());
      if (!changed.includes(stage)) changed.push(stage);
    }
    return changed;
  }

  #stage(record: ProgressRecord): Stage {
    let stage = this.stages.get(record.label);
    if (stage === undefined) {
      stage = {
        label: record.label,
        first: record.time,
        last: record.time,
        done: record.done,
        total: record.total,
        rate: new SmoothedRate(),
        printedAt: -Infinity,
        printedDone: NaN,
        printedStep: -1,
        printedLast: false,
      };
      this.stages.set(record.label, stage);
    }
    return stage;
  }

  #sumDone(): number {
    let sum = 0;
    for (const stage of this.stages.values()) sum += stage.done;
    return sum;
  }

  /** What one stage shows at `now` (epoch milliseconds). */
  view(stage: Stage, now: number): ProgressView {
    const complete = isComplete(stage);
    return {
      label: stage.label,
      done: stage.done,
      total: stage.total,
      perSecond: stage.rate.perSecond,
      elapsedMs: (complete ? stage.last : Math.max(now, stage.last)) - stage.first,
      etaMs: stage.total === undefined ? undefined : stage.rate.eta(stage.total - stage.done, now),
    };
  }

  /** The total line: done over every label; a total, percent and ETA only when every label has a total. */
  totalView(now: number): ProgressView {
    let done = 0;
    let total: number | undefined = 0;
    for (const stage of this.stages.values()) {
      done += stage.done;
      total = total === undefined || stage.total === undefined ? undefined : total + stage.total;
    }
    const complete = total !== undefined && done >= total;
    return {
      label: "total",
      done,
      total,
      perSecond: this.#total.perSecond,
      elapsedMs: (complete ? this.#last : Math.max(now, this.#last)) - this.#first,
      etaMs: total === undefined ? undefined : this.#total.eta(total - done, now),
    };
  }

  /** The block's lines at `now`: as many stages as the terminal's height allows (running ones first), the total. */
  lines(now: number): string[] {
    let stages = [...this.stages.values()];
    const room = Math.max(1, this.#rows - 2) - (stages.length > 1 ? 1 : 0);
    let hidden = 0;
    if (stages.length > room) {
      const running = stages.filter((s) => !isComplete(s));
      stages = running.length > 0 ? running : stages;
      if (stages.length > room) stages = stages.slice(0, Math.max(0, room - 1));
      hidden = this.stages.size - stages.length;
    }
    const views = stages.map((stage) => this.view(stage, now));
    if (this.stages.size > 1) views.push(this.totalView(now));
    const labelWidth = Math.min(
      Math.max(...views.map((v) => v.label.length)),
      Math.max(8, Math.floor(this.#columns / 3)),
    );
    const lines = views.map((view) => formatBarLine(view, this.#columns, labelWidth));
    if (hidden > 0) lines.splice(stages.length, 0, `… ${hidden} more`.slice(0, this.#columns - 1));
    return lines;
  }
}

/** Progress as a block at the bottom of the terminal, redrawn in place. */
class TerminalProgress implements Sink, TerminalBlock {
  readonly share: Int32Array;
  readonly #board: Board;
  #timer: ReturnType<typeof setInterval> | undefined;
  #shown = "";
  #closed = false;

  constructor(board: Board, share: Int32Array) {
    this.#board = board;
    this.share = share;
  }

  records(records: readonly TelemetryRecord[]): void {
    if (this.#board.update(records).length === 0 || this.#closed || this.#timer !== undefined) return;
    setTerminalBlock(this);
    this.#timer = setInterval(() => this.#tick(), REDRAW_MS);
    unrefTimer(this.#timer);
  }

  flush(): void {
    this.#redraw(true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#board.stages.size === 0) return;
    const locked = lockTerminal(this.share);
    try {
      // The final state goes below a line the program left open, then the block stays where it is.
      if (Atomics.load(this.share, TERMINAL_OPEN_LINE) === 1) {
        writeSync(2, "\n");
        Atomics.store(this.share, TERMINAL_OPEN_LINE, 0);
      }
      this.#shown = "";
      this.drawLocked();
      Atomics.store(this.share, TERMINAL_DRAWN, 0);
    } finally {
      setTerminalBlock(undefined);
      if (locked) unlockTerminal(this.share);
    }
  }

  #tick(): void {
    this.#redraw(false);
  }

  /** Redraws when the lines changed or another writer erased the block; skips a turn if the terminal is busy. */
  #redraw(wait: boolean): void {
    if (this.#closed || this.#board.stages.size === 0) return;
    const erased = Atomics.load(this.share, TERMINAL_DRAWN) === 0;
    if (!erased && this.#board.lines(now()).join("\n") === this.#shown) return;
    if (!lockTerminal(this.share, wait ? undefined : 0)) return;
    try {
      this.drawLocked();
    } finally {
      unlockTerminal(this.share);
    }
  }

  /** Draws the block over the one on screen (the cursor is on the line below it), leaving the cursor below. */
  drawLocked(): void {
    // Under a line the program has not finished, the block would split it: wait for the line's end.
    if (Atomics.load(this.share, TERMINAL_OPEN_LINE) === 1) return;
    const lines = this.#board.lines(now());
    const drawn = Atomics.load(this.share, TERMINAL_DRAWN);
    let text = drawn > 0 ? `\r\x1b[${drawn}A` : "";
    for (const line of lines) text += `${line}\x1b[K\n`;
    if (drawn > lines.length) text += clearLines(drawn - lines.length);
    writeSync(2, text);
    Atomics.store(this.share, TERMINAL_DRAWN, lines.length);
    this.#shown = lines.join("\n");
  }
}

/** Progress as plain lines for logs: throttled per label, no escape codes, the last state of each label at close. */
class PlainProgress implements Sink {
  readonly #board: Board;
  readonly #interval: number;
  #closed = false;

  constructor(board: Board, interval: number) {
    this.#board = board;
    this.#interval = interval;
  }

  records(records: readonly TelemetryRecord[]): void {
    if (this.#closed) return;
    let text = "";
    for (const stage of this.#board.update(records)) {
      const step = stage.total === undefined ? -1 : Math.floor(percent(stage.done, stage.total) / 10);
      const due = stage.last - stage.printedAt >= this.#interval && stage.done !== stage.printedDone;
      if (stage.printedAt !== -Infinity && step <= stage.printedStep && !due) continue;
      text += this.#line(stage, stage.last);
      stage.printedStep = step;
    }
    if (text !== "") writeSync(2, text);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const at = now();
    let text = "";
    for (const stage of this.#board.stages.values()) {
      if (!stage.printedLast) text += this.#line(stage, at);
    }
    if (this.#board.stages.size > 1) text += formatPlainLine(this.#board.totalView(at)) + "\n";
    if (text !== "") writeSync(2, text);
  }

  #line(stage: Stage, at: number): string {
    stage.printedAt = stage.last;
    stage.printedDone = stage.done;
    stage.printedLast = true;
    return formatPlainLine(this.#board.view(stage, at)) + "\n";
  }
}

function isComplete(stage: Stage): boolean {
  return stage.total !== undefined && stage.done >= stage.total;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

// Neither the redraw timer nor anything else here may keep a process alive.
function unrefTimer(timer: unknown): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) {
    (timer as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer?.(timer);
}
