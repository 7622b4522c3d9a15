/**
 * Entry point of the service a `slapos.cookbook:sshkeys_authority` wrapper runs: `node
 * sshkeys-authority-main.js --request-dir DIR --keygen BIN` (sshkeys-authority-service.ts).
 * Stops on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { runSshkeysAuthority } from './sshkeys-authority-service.ts';

const { values } = parseArgs({
  options: { 'request-dir': { type: 'string' }, keygen: { type: 'string' } },
});
const requestDir = values['request-dir'];
const { keygen } = values;
if (!requestDir || !keygen) {
  process.stderr.write('sshkeys_authority: --request-dir and --keygen are required\n');
  process.exitCode = 2;
} else {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  try {
    await runSshkeysAuthority(
      { requestDir, keygen, log: (line) => process.stdout.write(`${line}\n`) },
      stop.signal,
    );
  } catch (error) {
    process.stderr.write(`sshkeys_authority: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
