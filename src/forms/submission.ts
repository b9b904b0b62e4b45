import type { FormConfig } from '../config';
import { ApiError } from '../http';
import { measureText } from '../messages';

// C0 and C1 control characters except tab and line breaks, which the template may keep.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

/** A form post's declared fields, cleaned: anything else in the post (`to`, `from`, `template`…) is ignored. */
export function cleanFields(form: FormConfig, body: Record<string, unknown>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, rule] of Object.entries(form.fields)) {
    const raw = body[name];
    if (raw !== undefined && typeof raw !== 'string') {
      throw new ApiError('FIELD_INVALID', `${name}: expected text`);
    }
    let value = (raw ?? '').replace(CONTROL, '').replace(/\r\n?/g, '\n').trim();
    if (rule.required && value === '') throw new ApiError('FIELD_EMPTY', `${name}: required`);
    const characters = Array.from(value); // code points: an emoji is one character, never cut in half
    if (characters.length > rule.maxLength) {
      if (form.overLength === 'reject') {
        throw new ApiError(
          'FIELD_INVALID',
          `${name}: at most ${rule.maxLength} characters, got ${characters.length}`,
        );
      }
      value = characters.slice(0, rule.maxLength).join('');
    }
    values[name] = value;
  }
  return values;
}

/** The template with each {{field}} replaced by its cleaned value; refused if it needs more segments than allowed. */
export function renderText(form: FormConfig, template: string, values: Record<string, string>): string {
  const text = template.replace(/{{\s*([^}\s]+)\s*}}/g, (_match, name: string) => values[name] ?? '');
  let segments: number;
  try {
    segments = measureText(text).segments;
  } catch {
    segments = Infinity; // longer than the provider's longest message
  }
  if (segments > form.maxSegments) {
    throw new ApiError(
      'FIELD_INVALID',
      `message: the rendered text needs ${Number.isFinite(segments) ? segments : 'more than 6'} SMS segments; this form allows ${form.maxSegments}`,
    );
  }
  return text;
}
