/**
 * Entry point of the service a `slapos.cookbook:sshkeys_authority` wrapper runs: `node
 * sshkeys-authority-main.js --request-dir DIR --keygen BIN` (sshkeys-authority-service.ts).
 * Stops on SIGTERM/SIGINT.
 */
import { runServiceMain } from './service-main.ts';
import { runSshkeysAuthority } from './sshkeys-authority-service.ts';

await runServiceMain('sshkeys_authority', ['request-dir', 'keygen'], (values, log, signal) =>
  runSshkeysAuthority({ requestDir: values['request-dir'], keygen: values.keygen, log }, signal),
);
