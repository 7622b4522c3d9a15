/** SIGTERM and SIGINT, for the commands that run until stopped (proxy start, node run). */

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Watches for the stop signals; `stopped` resolves with the first one, `dispose` stops watching. */
export function watchStopSignals(): { stopped: Promise<NodeJS.Signals>; dispose: () => void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const dispose = (): void => {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  };
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      dispose();
      resolve(signal);
    };
    for (const name of STOP_SIGNALS) process.on(name, onSignal);
  });
  return { stopped, dispose };
}
