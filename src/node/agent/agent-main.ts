/**
 * Lean entry point of the node agent: what `slapos node run --cfg FILE` does, loading only the
 * node's modules (not the whole CLI: the master, commander…), which keeps the long-lived process
 * small. The standalone SlapOS starts the agent through it. Logs JSON lines to stderr.
 *
 *   node agent-main.js --cfg slapos.cfg [--log-level info] [--grace SECONDS]
 */
import { parseArgs } from 'node:util';
import { toSlapError } from '../../core/errors.ts';
import { createLogger, type LogLevel } from '../../lib/logger.ts';
import { loadNodeConfig } from '../config.ts';
import { runAgentProcess } from './run-agent.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cfg: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      grace: { type: 'string', default: '10' },
    },
  });
  const logger = createLogger({ level: (values['log-level'] ?? 'info') as LogLevel });
  process.title = 'slapos-node-run';
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const config = await loadNodeConfig(values.cfg === undefined ? {} : { cfg: values.cfg });
    await runAgentProcess(config, { logger, stop: stopped, graceMs: Number(values.grace) * 1000 });
    return 0;
  } catch (error) {
    const slapError = toSlapError(error);
    logger.error({ code: slapError.code, hint: slapError.hint }, slapError.message);
    return slapError.exitCode;
  }
}

process.exitCode = await main();
