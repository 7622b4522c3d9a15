/**
 * fastify for the project's code: every value import of fastify goes through here (eslint refuses
 * others), so that its one-file bundle is loaded when the build made one of the installed version
 * (vendor-bundles.ts), the package otherwise. Types come from the package.
 */
import type FastifyPackage from 'fastify';
import { VENDOR_BUNDLES, vendorSpecifier } from './vendor-bundles.ts';

const specifier = vendorSpecifier(VENDOR_BUNDLES.fastify);
// Both are CommonJS: their `module.exports` (the factory, with its other exports as properties).
const exported = ((await import(specifier)) as { default: typeof FastifyPackage }).default;

/** Which fastify was loaded: `bundle` or `package` (for tests and benchmarks). */
export const FASTIFY_SOURCE: 'bundle' | 'package' = specifier === 'fastify' ? 'package' : 'bundle';

export const fastify = exported;
export const LogController = exported.LogController;
