// How long this node's own work holds its event loop, told apart from the time the machine
// makes it wait. A probe fires every LOOP_PROBE_MS; for each interval between two firings it
// takes the wall time, the CPU time the process used (process.cpuUsage, user plus system),
// the time the loop was active (performance.eventLoopUtilization: outside its wait for I/O)
// and the time the loop's thread waited for a core (Linux: /proc/thread-self/schedstat).
// A probe that fires late while the loop was active and the CPU busy for that long is work
// of ours holding the loop (a request served in one piece, a long apply, a GC pause):
// heartbeats wait for it, and a long enough hold costs the leader its office. A probe that
// fires late while the CPU was idle, the loop waited for I/O, or its thread waited for a core
// is the machine: a shared box, a stopped process. A follower's leader gap (leader-contact.ts)
// shows both; this tells them apart.
//
// Each measure alone overstates the loop's own work, never understates it: the CPU time
// counts the process's other threads (GC helpers, the libuv pool, workers); the active time
// counts a callback's wait for a core; the wall time less the thread's wait for a core
// counts the loop's wait for I/O. Not the thread's own CPU time: in a GC pause the loop's
// thread sleeps while the GC's helper threads work for it (measured: a 1.5 s allocation loop
// ran its thread 1.2 s), and that pause holds the loop as much as any work. `busyMs` is the
// least of the three, still an upper bound of the loop's own work: a bound built on it errs on
// the side of failing. Where the wait for a core cannot be read it counts as none.

import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { NewestRecords } from '../newest-records.ts';

/** The probe's period (ms): a hold shorter than this is not told from the loop's normal turn. */
export const LOOP_PROBE_MS = 10;
/** A stall whose wall time is at least this long is kept in the recent list. */
export const LOOP_STALL_RECORD_MS_MIN = 20;
/** The recent list holds at most this many stalls (the newest). */
export const LOOP_STALLS_KEPT_MAX = 64;
/** A stall whose wall time is at least this long is told to the listener (the node's warning
 * log): a fifth of the chaos command's 500 ms interruption target, twice a heartbeat. */
export const LOOP_STALL_WARN_MS = 100;

export interface LoopStall {
  /** Date.now() when the probe fired late. */
  readonly endedAt: number;
  /** Wall time since the previous firing (ms, rounded to 0.1). */
  readonly wallMs: number;
  /** The least of the CPU time the process used in that interval, the time its loop was
   * active, and wallMs less the loop thread's wait for a core (ms, rounded to 0.1). */
  readonly busyMs: number;
  /** The loop's thread waited this long for a core in that interval (ms, rounded to 0.1; 0
   * where unknown): the machine's share of the stall. */
  readonly coreWaitMs: number;
}

export interface LoopStallStatus {
  /** The longest interval between two probe firings since the node started (ms). */
  readonly wallMsMax: number;
  /** The most busy time (LoopStall.busyMs) within one interval since the node started (ms):
   * the longest the node's own work can have held its loop. */
  readonly busyMsMax: number;
  /** The newest intervals of at least LOOP_STALL_RECORD_MS_MIN wall time, oldest first. */
  readonly recent: readonly LoopStall[];
}

/** Reads of the clocks the monitor compares; injectable for tests. */
export interface LoopClocks {
  /** Monotonic wall time (ms). */
  wallMs(): number;
  /** CPU time the process has used (ms). */
  cpuMs(): number;
  /** Time the event loop has been active, outside its wait for I/O (ms). */
  activeMs(): number;
  /** Time the loop's thread has waited for a core while it could run (ms); 0 where unknown. */
  coreWaitMs(): number;
}

/** The schedstat file holds three numbers: ns on a core, ns waiting for one, time slices. */
const SCHEDSTAT_BYTES_MAX = 96;

/** The calling thread's wait for a core (ms), read from its schedstat file, opened once per
 * thread (a module's state is its thread's) and kept open for the thread's life: a read costs
 * ~4 µs, an open and read ~30 µs. null where the file is missing or unreadable. */
function openCoreWaitClock(): (() => number) | null {
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return null;
  }
  const buf = Buffer.alloc(SCHEDSTAT_BYTES_MAX);
  const parse = (): number => {
    const n = readSync(fd, buf, 0, SCHEDSTAT_BYTES_MAX, 0);
    return Number(buf.toString('latin1', 0, n).split(' ', 2)[1]) / 1e6;
  };
  let last: number;
  try {
    last = parse();
  } catch {
    last = Number.NaN;
  }
  if (!Number.isFinite(last)) {
    closeSync(fd);
    return null;
  }
  // Called from the Raft ticker: a read that fails later must not throw there. The last good
  // value stands in (no wait counted: the bound stays an upper one).
  return () => {
    try {
      const now = parse();
      if (Number.isFinite(now) && now >= last) last = now;
    } catch {
      // Keep the last good value.
    }
    return last;
  };
}

const processCpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

let coreWaitClock: (() => number) | null | undefined;

/** The clocks of the calling thread. */
export function threadClocks(): LoopClocks {
  if (coreWaitClock === undefined) coreWaitClock = openCoreWaitClock();
  return {
    wallMs: () => performance.now(),
    cpuMs: processCpuMs,
    activeMs: () => performance.eventLoopUtilization().active,
    coreWaitMs: coreWaitClock ?? (() => 0),
  };
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

export class LoopStalls {
  private lastWallMs: number;
  private lastCpuMs: number;
  private lastActiveMs: number;
  private lastCoreWaitMs: number;
  private lastWallBeforeWaitMs: number;
  private wallMsMax = 0;
  private busyMsMax = 0;
  private readonly recent = new NewestRecords<LoopStall>(LOOP_STALLS_KEPT_MAX);
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  /** `onStall`: told of each stall of LOOP_STALL_WARN_MS wall time or longer. */
  constructor(
    private readonly clocks: LoopClocks = threadClocks(),
    private readonly onStall?: (stall: LoopStall) => void,
  ) {
    this.lastWallMs = clocks.wallMs();
    this.lastCpuMs = clocks.cpuMs();
    this.lastActiveMs = clocks.activeMs();
    this.lastCoreWaitMs = clocks.coreWaitMs();
    this.lastWallBeforeWaitMs = this.lastWallMs;
  }

  /**
   * Starts the probe; it never keeps the process alive. `timer: 'caller'`: the caller calls
   * sample() every LOOP_PROBE_MS from a timer of its own (the Raft node's ticker: one wakeup
   * of the process every 10 ms instead of two).
   */
  start(timer: 'own' | 'caller' = 'own'): void {
    if (this.running) return;
    this.running = true;
    this.lastWallMs = this.clocks.wallMs();
    this.lastCpuMs = this.clocks.cpuMs();
    this.lastActiveMs = this.clocks.activeMs();
    this.lastCoreWaitMs = this.clocks.coreWaitMs();
    this.lastWallBeforeWaitMs = this.lastWallMs;
    if (timer === 'own') {
      this.timer = setInterval(() => this.sample(), LOOP_PROBE_MS);
      this.timer.unref();
    }
  }

  /** Stops the probe after a last sample, so a stall right before stop() is not lost. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.sample();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One probe firing (the timer's, or a test's). */
  sample(): void {
    // The wall clock is read right before and after the wait for a core, so that every wait
    // subtracted lies within the span it is subtracted from: a wait for a core between two
    // reads of different clocks would otherwise be taken from an interval it is not in.
    const wallBeforeWaitMs = this.clocks.wallMs();
    const coreWaitMs = this.clocks.coreWaitMs();
    const wallMs = this.clocks.wallMs();
    const cpuMs = this.clocks.cpuMs();
    const activeMs = this.clocks.activeMs();
    const wall = round1(wallMs - this.lastWallMs);
    const notWaiting = wallMs - this.lastWallBeforeWaitMs - (coreWaitMs - this.lastCoreWaitMs);
    const busy = round1(Math.max(0, Math.min(notWaiting, cpuMs - this.lastCpuMs, activeMs - this.lastActiveMs)));
    const lastCoreWaitMs = this.lastCoreWaitMs;
    this.lastWallBeforeWaitMs = wallBeforeWaitMs;
    this.lastWallMs = wallMs;
    this.lastCpuMs = cpuMs;
    this.lastActiveMs = activeMs;
    this.lastCoreWaitMs = coreWaitMs;
    if (wall > this.wallMsMax) this.wallMsMax = wall;
    if (busy > this.busyMsMax) this.busyMsMax = busy;
    if (wall >= LOOP_STALL_RECORD_MS_MIN) {
      const stall: LoopStall = { endedAt: Date.now(), wallMs: wall, busyMs: busy, coreWaitMs: round1(Math.max(0, coreWaitMs - lastCoreWaitMs)) };
      this.recent.add(stall);
      if (wall >= LOOP_STALL_WARN_MS) this.onStall?.(stall);
    }
  }

  status(): LoopStallStatus {
    return { wallMsMax: this.wallMsMax, busyMsMax: this.busyMsMax, recent: this.recent.list() };
  }
}
