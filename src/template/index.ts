/**
 * Jinja2-compatible template engine with Python value semantics (see README.md in this folder).
 *
 *   const t = compileTemplate(source, { name: 'instance.cfg.in', undefined: 'strict', extensions: ['jinja2.ext.do'] });
 *   const text = t.render({ slapparameter_dict: { port: 8080 } });
 */
import {
  Environment,
  type EnvironmentOptions,
  type RenderOptions,
  type Template,
  type TemplateContext,
} from './environment.ts';

export {
  Environment,
  Template,
  EXTENSION_DO,
  EXTENSION_LOOPCONTROLS,
  toTemplateError,
  type EnvironmentOptions,
  type RenderOptions,
  type TemplateContext,
  type TemplateLoader,
  type TemplateSource,
} from './environment.ts';
export { fromJs, toJs } from './convert.ts';
export { pythonBuiltins, jinjaGlobals } from './builtins.ts';
export { pythonModule, SUPPORTED_MODULES } from './modules.ts';
export { prefixLoader, type ImportEntry, type PrefixLoaderOptions } from './loaders.ts';
export { jsonDumps, jsonLoads, jsonString, type JsonDumpOptions } from './json.ts';
export { percentFormat, strFormat, formatValue } from './format.ts';
export { callValue, getAttr } from './attributes.ts';
export type { EvalContext, FilterFn, TestFn } from './runtime.ts';
export {
  PyBytes,
  PyDict,
  PyError,
  PyFrozenSet,
  PyFunction,
  PyIterator,
  PyMarkup,
  PyModule,
  PyNamespace,
  PyObject,
  PySet,
  PyTuple,
  PyType,
  PyUndefined,
  pyEquals,
  pyRepr,
  pyStr,
  truthy,
  tuple,
  typeName,
  type Kwargs,
  type PyList,
  type PyValue,
} from './values.ts';

export interface CompileOptions extends EnvironmentOptions {
  /** Name used in error messages (and by the loader's relative lookups); default `<template>`. */
  name?: string;
  /** Reuse an environment (its loader, filters, cache) instead of building one from the options. */
  environment?: Environment;
}

/** Compiles template source once; render it many times. Throws SlapError (SLAP_ERR_TEMPLATE) on syntax errors. */
export function compileTemplate(source: string, options: CompileOptions = {}): Template {
  const { name, environment, ...envOptions } = options;
  const env = environment ?? new Environment(envOptions);
  return env.fromString(source, name === undefined ? {} : { name });
}

/** Compiles and renders in one go. */
export function renderTemplate(
  source: string,
  context: TemplateContext = {},
  options: CompileOptions & RenderOptions = {},
): string {
  const { signal, timeoutMs, ...compileOptions } = options;
  return compileTemplate(source, compileOptions).render(context, {
    ...(signal ? { signal } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}
