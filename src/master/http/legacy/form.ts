/**
 * The fields of a legacy SLAP call (docs/protocol.md §3.1): an `application/x-www-form-urlencoded`
 * body (POST) or a query string (GET). Strict: `+` is a space, every `%XX` must be a valid escape
 * and the bytes they give valid UTF-8 (else 400, never replaced), a field given twice is refused
 * (which value was meant is not known), a required field that is missing is a 400 as slapproxy's.
 */
import { SlapError } from '../../../core/errors.ts';
import { TEXT_RULES, textProblem, type TextRule } from '../../../core/text-rules.ts';
import { decodeUrlEncoded, quotedFieldName as quoted } from '../url-encoded.ts';

/**
 * The master's text rules (core/text-rules.ts) for the plain fields, as the JSON API applies them to
 * the same values: names, titles, URLs, free text. Marshalled fields are checked once decoded.
 */
const FIELD_RULES: Readonly<Record<string, TextRule>> = {
  computer_id: TEXT_RULES.name,
  computer_partition_id: TEXT_RULES.name,
  computer_reference: TEXT_RULES.name,
  computer_partition_reference: TEXT_RULES.name,
  partition_reference: TEXT_RULES.title,
  new_name: TEXT_RULES.title,
  software_release: TEXT_RULES.url,
  url: TEXT_RULES.url,
  software_type: TEXT_RULES.optionalName,
  slave_reference: TEXT_RULES.instanceGuid,
  software_product_reference: TEXT_RULES.optionalName,
  message: TEXT_RULES.freeText,
  error_log: TEXT_RULES.freeText,
  use_string: TEXT_RULES.freeText,
};

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

export class LegacyForm {
  private constructor(private readonly fields: ReadonlyMap<string, string>) {}

  /** Parses `name=value&…` (already checked to be UTF-8 text); empty pairs are skipped. */
  static parse(text: string, where: 'body' | 'query string'): LegacyForm {
    const fields = new Map<string, string>();
    for (const [name, value] of decodeUrlEncoded(text, where)) {
      if (fields.has(name)) throw invalid(`field ${quoted(name)} is given more than once`);
      fields.set(name, value);
    }
    return new LegacyForm(fields);
  }

  static empty(): LegacyForm {
    return new LegacyForm(new Map());
  }

  /**
   * This form with the fields of another (a POST's query string: Flask's `request.values`, which
   * slapproxy's computerBang test relies on); a field in both is refused as given twice.
   */
  with(other: LegacyForm): LegacyForm {
    if (other.fields.size === 0) return this;
    const fields = new Map(this.fields);
    for (const [name, value] of other.fields) {
      if (fields.has(name)) throw invalid(`field ${quoted(name)} is given more than once`);
      fields.set(name, value);
    }
    return new LegacyForm(fields);
  }

  has(name: string): boolean {
    return this.fields.has(name);
  }

  /** The field's value; a missing one is the 400 slapproxy answers. */
  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw invalid(`The request is missing the field ${quoted(name)}.`);
    return value;
  }

  /** The field's value, checked against its text rule (FIELD_RULES), or undefined. */
  optional(name: string): string | undefined {
    const value = this.fields.get(name);
    const rule = FIELD_RULES[name];
    if (value !== undefined && rule) {
      const problem = textProblem(value, rule);
      if (problem) throw invalid(`field ${quoted(name)} ${problem}`);
    }
    return value;
  }
}
