/**
 * Time budget of the render in progress. Rendering is synchronous, so timers cannot interrupt it:
 * loops, macro calls and range iteration call `tick()`, which checks the deadline and the abort
 * signal every 1024 steps.
 */

/** Thrown when a render runs past its deadline or its signal is aborted. */
export class RenderInterrupted extends Error {
  constructor(readonly reason: 'timeout' | 'aborted') {
    super(reason === 'timeout' ? 'rendering took longer than its deadline' : 'rendering aborted');
    this.name = 'RenderInterrupted';
  }
}

let deadline = Infinity;
let signal: AbortSignal | undefined;
let steps = 0;

export function tick(): void {
  if ((++steps & 0x3ff) !== 0) return;
  if (signal?.aborted) throw new RenderInterrupted('aborted');
  if (deadline !== Infinity && performance.now() > deadline) throw new RenderInterrupted('timeout');
}

/** Runs `fn` under a deadline (ms from now) and an optional signal; nested budgets keep the tightest. */
export function withBudget<T>(
  options: { timeoutMs?: number; signal?: AbortSignal | undefined },
  fn: () => T,
): T {
  const saved = { deadline, signal };
  const mine = options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs;
  deadline = Math.min(deadline, mine);
  signal = options.signal ?? signal;
  try {
    if (signal?.aborted) throw new RenderInterrupted('aborted');
    return fn();
  } finally {
    deadline = saved.deadline;
    signal = saved.signal;
  }
}
