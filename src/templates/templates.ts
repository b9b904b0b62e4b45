import { SegmentedMessage } from 'sms-segments-calculator';

/** What a template declares (the shape of `tenants.<id>.templates.<id>` in the config). */
export interface TemplateDefinition {
  text: string;
  fields: Record<string, { type: 'text' | 'gsm' | 'digits'; maxLength: number }>;
  maxSegments: number;
}

/** A refusal of the caller's params: the field at fault and why (the caller turns it into its error). */
export class TemplateParamError extends Error {}

const PLACEHOLDER = /{{\s*([^}\s]*)\s*}}/g;

/** The placeholder names a text uses, in order, with repeats. */
export function placeholdersOf(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((match) => match[1] ?? '');
}

/**
 * The longest value a field may take, for the worst-case measurement: `digits` are GSM-7 digits;
 * `gsm` could be GSM-7 extension characters (two septets each); `text` could be any character,
 * so an emoji (two UCS-2 units, and it forces UCS-2 on the whole message).
 */
function worstValue(type: 'text' | 'gsm' | 'digits', maxLength: number): string {
  const unit = type === 'digits' ? '9' : type === 'gsm' ? '€' : '\u{1F600}';
  return unit.repeat(maxLength);
}

/** Problems with one template, each naming `key` (its config path); empty when it is sound. */
export function checkTemplate(key: string, template: TemplateDefinition): string[] {
  const problems: string[] = [];
  const used = new Set(placeholdersOf(template.text));
  for (const name of used) {
    if (!Object.hasOwn(template.fields, name))
      problems.push(`${key}.text: {{${name}}} is not a declared field (declare it under ${key}.fields)`);
  }
  for (const name of Object.keys(template.fields)) {
    if (!used.has(name)) problems.push(`${key}.fields.${name}: declared but never used in the text`);
  }
  if (problems.length > 0) return problems;
  const worst = fill(template.text, (name) => {
    const field = template.fields[name];
    return field ? worstValue(field.type, field.maxLength) : '';
  });
  const segments = new SegmentedMessage(worst.replace(/\r?\n/g, '\r\n')).segmentsCount;
  if (segments > template.maxSegments) {
    problems.push(
      `${key}.text: up to ${segments} SMS segments with every field at its maxLength, over maxSegments ${template.maxSegments}`,
    );
  }
  return problems;
}

/**
 * The text with each placeholder replaced by its param. Every declared field is required, no other
 * param is accepted, and each value is checked against its type and maxLength (counted in
 * characters); a refusal names the param (`params.name: …`).
 */
export function renderTemplate(template: TemplateDefinition, params: Record<string, unknown>): string {
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(template.fields, name))
      throw new TemplateParamError(`params.${name.slice(0, 40)}: not a field of this template`);
  }
  for (const [name, field] of Object.entries(template.fields)) {
    const value = params[name];
    if (typeof value !== 'string' || value === '')
      throw new TemplateParamError(`params.${name}: required (a non-empty string)`);
    if ([...value].length > field.maxLength)
      throw new TemplateParamError(`params.${name}: at most ${field.maxLength} characters`);
    if (field.type === 'digits' && !/^[0-9]+$/.test(value))
      throw new TemplateParamError(`params.${name}: expected digits only`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value))
      throw new TemplateParamError(`params.${name}: line breaks and control characters are not allowed`);
    if (field.type === 'gsm' && new SegmentedMessage(value).encodingName !== 'GSM-7')
      throw new TemplateParamError(`params.${name}: expected GSM-7 characters only`);
  }
  return fill(template.text, (name) => String(params[name]));
}

function fill(text: string, valueOf: (name: string) => string): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => valueOf(name));
}
