/**
 * The master's own rules on request bodies, beyond the API contract's schemas: which text rule
 * (src/core/text-rules.ts) applies to which property, the caps on a format's arrays, and the checks
 * the generated request validators call (generated-request-validators.ts). No ajv here: this
 * module loads with every master, the schema compiler only when the validators are regenerated.
 */
import { TEXT_RULES, textProblem, type TextRule, type TextRuleName } from '../../core/text-rules.ts';

/** Which text rule applies to a string property, by property name (the same in every path). */
export const PROPERTY_RULES: Readonly<Record<string, TextRuleName>> = {
  title: 'title',
  software_release_uri: 'url',
  software_type: 'optionalName',
  computer_guid: 'name',
  compute_partition_id: 'name',
  partition_id: 'name',
  instance_guid: 'instanceGuid',
  'ip-address': 'name',
  'network-interface': 'optionalName',
  netmask: 'optionalName',
  'network-address': 'optionalName',
  'gateway-ip-address': 'optionalName',
  project_guid: 'optionalName',
  network_guid: 'optionalName',
  message: 'freeText',
  // promise results (slapos-extensions.json): a promise's title
  name: 'name',
  tioxml: 'freeText',
  // resilient trees (slapos-extensions.json): the title of a clone to promote
  clone: 'title',
  // a restore into another tree (slapos-extensions.json): the target tree's title
  into: 'title',
};

/** Properties holding parameter dictionaries (stored as parameter XML). */
export const PARAMETER_DICTS: ReadonlySet<string> = new Set(['parameters', 'connection_parameter_dict']);

/**
 * Items of the arrays a compute node format sends: they bound what one format request writes
 * (docs/master.md, "Limits"); real nodes have tens to a few hundred partitions, a few addresses each.
 */
export const ARRAY_CAPS: Readonly<Record<string, number>> = { compute_partition_list: 1000, ip_list: 64 };

/** The rule of each string value of an SLA (filter) dictionary. */
export const SLA_VALUE: TextRule = { maxLength: 4096, allowEmpty: true };

/** The rule names of the `x-slapos-text` keyword: a text rule's, or `sla` (SLA_VALUE). */
export type TextKeywordRule = TextRuleName | 'sla';

/** What is wrong with `value` under the `x-slapos-text` rule `ruleName`, if anything. */
export function textKeywordProblem(ruleName: TextKeywordRule, value: string): string | undefined {
  return textProblem(value, ruleName === 'sla' ? SLA_VALUE : TEXT_RULES[ruleName]);
}
