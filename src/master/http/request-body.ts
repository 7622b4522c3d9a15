/**
 * Request bodies: JSON only, at most 1 MiB, nesting at most 64 levels, no prototype-poisoning keys.
 * The raw text is kept so that handlers can re-read numbers with their Python types.
 */
import { SlapError } from '../../core/errors.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;
export const MAX_NESTING = 64;

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

/** Refuses documents nested deeper than MAX_NESTING (deep values would exhaust the stack later). */
function checkNesting(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) {
      if (++depth > MAX_NESTING) throw invalid(`The JSON body is nested deeper than ${MAX_NESTING} levels.`);
    } else if (char === 0x7d || char === 0x5d) depth--;
  }
}

function checkPrototypeKeys(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) checkPrototypeKeys(item);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (
        key === '__proto__' ||
        (key === 'constructor' && item !== null && typeof item === 'object' && 'prototype' in item)
      ) {
        throw invalid(`The JSON body holds a forbidden key: ${key}`);
      }
      checkPrototypeKeys(item);
    }
  }
}

export function parseJsonBody(text: string): unknown {
  checkNesting(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(
      `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (/"(?:__proto__|constructor)"/.test(text)) checkPrototypeKeys(value);
  return value;
}
