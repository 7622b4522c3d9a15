/**
 * Entry point of the service a `slapos.cookbook:certificate_authority` wrapper runs: `node
 * certificate-authority-main.js --key K --certificate C --openssl BIN --config CONF --request-dir
 * DIR` (certificate-authority-service.ts). Stops on SIGTERM/SIGINT; a failure to make the CA exits 1.
 */
import { parseArgs } from 'node:util';
import { runCertificateAuthority } from './certificate-authority-service.ts';

const { values } = parseArgs({
  options: {
    key: { type: 'string' },
    certificate: { type: 'string' },
    openssl: { type: 'string' },
    config: { type: 'string' },
    'request-dir': { type: 'string' },
  },
});
const { key, certificate, openssl, config } = values;
const requestDir = values['request-dir'];
if (!key || !certificate || !openssl || !config || !requestDir) {
  process.stderr.write(
    'certificate_authority: --key, --certificate, --openssl, --config and --request-dir are required\n',
  );
  process.exitCode = 2;
} else {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  try {
    await runCertificateAuthority(
      { key, certificate, openssl, config, requestDir, log: (line) => process.stdout.write(`${line}\n`) },
      stop.signal,
    );
  } catch (error) {
    process.stderr.write(`certificate_authority: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
