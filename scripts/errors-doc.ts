/** Prints docs/errors.md from the error catalog: `npx tsx scripts/errors-doc.ts > docs/errors.md`. */
import { renderErrorsDoc } from '../src/core/errors-doc.ts';

process.stdout.write(renderErrorsDoc());
