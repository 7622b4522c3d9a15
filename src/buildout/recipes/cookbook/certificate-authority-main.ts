/**
 * Entry point of the service a `slapos.cookbook:certificate_authority` wrapper runs: `node
 * certificate-authority-main.js --key K --certificate C --openssl BIN --config CONF --request-dir
 * DIR` (certificate-authority-service.ts). Stops on SIGTERM/SIGINT; a failure to make the CA exits 1.
 */
import { runCertificateAuthority } from './certificate-authority-service.ts';
import { runServiceMain } from './service-main.ts';

await runServiceMain(
  'certificate_authority',
  ['key', 'certificate', 'openssl', 'config', 'request-dir'],
  (values, log, signal) =>
    runCertificateAuthority(
      {
        key: values.key,
        certificate: values.certificate,
        openssl: values.openssl,
        config: values.config,
        requestDir: values['request-dir'],
        log,
      },
      signal,
    ),
);
