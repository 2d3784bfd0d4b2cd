// The terminal the progress block is drawn on, shared by everything that writes to it. Writers take turns through
// a lock in a SharedArrayBuffer (the program's main thread takes it too, see producer/console_guard.ts); a writer
// erases the block first, and the block is drawn again below what was written.
import { TERMINAL_DRAWN, TERMINAL_LOCK, TERMINAL_OPEN_LINE } from "../protocol.ts";
import { isTerminal } from "../runtime/tty.ts";
import { writeSync } from "../runtime/stdio.ts";

/**
 * How long a writer waits for the lock before it takes it over: a writer holds it for one write, so a lock held
 * longer belongs to a thread that died (a terminated sidecar), which must not slow every later write.
 */
const LOCK_WAIT_MS = 250;

/** A block of lines kept at the bottom of the terminal by the sink that owns it. */
export interface TerminalBlock {
  /** The array shared with the main thread's console guard. */
  readonly share: Int32Array;
  /** Draws the block below the cursor; called with the lock held. */
  drawLocked(): void;
}

let block: TerminalBlock | undefined;
const terminals = new Map<1 | 2, boolean>();

/** Makes `owner` the block other writes must go around, or none. */
export function setTerminalBlock(owner: TerminalBlock | undefined): void {
  block = owner;
}

/**
 * Writes text to stdout or stderr from the sidecar. While a progress block is drawn on the terminal, the block is
 * erased first and drawn again below the text, so neither garbles the other.
 */
export function writeTerminal(fd: 1 | 2, text: string): void {
  const owner = block;
  if (owner === undefined || !terminalFd(fd)) return writeSync(fd, text);
  const locked = lockTerminal(owner.share);
  try {
    eraseBlock(owner.share);
    writeSync(fd, text);
    const open = !text.endsWith("\n");
    Atomics.store(owner.share, TERMINAL_OPEN_LINE, open ? 1 : 0);
    if (!open) owner.drawLocked();
  } finally {
    if (locked) unlockTerminal(owner.share);
  }
}

// The block lives on stderr; stdout disturbs it only when it is the same screen.
function terminalFd(fd: 1 | 2): boolean {
  if (fd === 2) return true;
  let known = terminals.get(fd);
  if (known === undefined) terminals.set(fd, known = isTerminal(fd));
  return known;
}

/**
 * Takes the terminal lock. Not reentrant: a thread that may write while it holds the lock keeps its own depth
 * count. With `waitMs` 0 it only tries; otherwise, after `LOCK_WAIT_MS`, it takes the lock over (see there).
 *
 * @returns True when taken (release it with `unlockTerminal()`); false when busy and `waitMs` is 0.
 */
export function lockTerminal(share: Int32Array, waitMs: number = LOCK_WAIT_MS): boolean {
  const deadline = performance.now() + waitMs;
  while (Atomics.compareExchange(share, TERMINAL_LOCK, 0, 1) !== 0) {
    if (waitMs === 0) return false;
    const left = deadline - performance.now();
    if (left <= 0) return true; // taken over: it stays 1, now ours
    Atomics.wait(share, TERMINAL_LOCK, 1, left);
  }
  return true;
}

/** Releases the terminal lock and wakes one waiting writer. */
export function unlockTerminal(share: Int32Array): void {
  Atomics.store(share, TERMINAL_LOCK, 0);
  Atomics.notify(share, TERMINAL_LOCK, 1);
}

/** Erases the block if one is drawn (the cursor is on the line below it); call with the lock held. */
export function eraseBlock(share: Int32Array): void {
  const lines = Atomics.load(share, TERMINAL_DRAWN);
  if (lines <= 0) return;
  writeSync(2, eraseSequence(lines));
  Atomics.store(share, TERMINAL_DRAWN, 0);
}

/** Moves the cursor up `lines` lines to the block's first line and clears them, leaving the cursor there. */
export function eraseSequence(lines: number): string {
  return `\r\x1b[${lines}A${clearLines(lines)}`;
}

/**
 * Clears `lines` lines from the cursor's down, and comes back. Line by line rather than "clear to the end of the
 * screen": a terminal may keep a whole-screen clear in its scrollback (tmux's scroll-on-clear), a stale bar.
 */
export function clearLines(lines: number): string {
  return lines > 0 ? `${"\x1b[2K\x1b[1B".repeat(lines)}\x1b[${lines}A` : "";
}
