/**
 * `npm run compat -- PATH_TO_SLAPOS_CHECKOUT [--json]`: the compatibility report of a SlapOS
 * checkout's instance profiles with this engine (docs/compat.md).
 */
import { compatMain } from '../src/compat/cli.ts';

process.exitCode = await compatMain(process.argv.slice(2), process.stdout, process.stderr);
