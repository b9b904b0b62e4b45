// The account's SMS templates: listed by get-template, sent by send-sms-template with each
// recipient's `{fname}`-style fields filled in.
import { randomBytes } from 'node:crypto';
import { formatProviderTime } from '../clock';
import { pageOf } from './paging';
import { ProviderReply } from './reply';
import type { SandboxState } from './state';
import type { ProviderTemplate, TemplateSeed } from './types';

/** The per-recipient fields send-sms-template documents; each fills the placeholder of its name. */
export const TEMPLATE_FIELDS = [
  'fname',
  'lname',
  'gender',
  'post_code',
  'dob',
  'custom_value_1',
  'custom_value_2',
  'custom_value_3',
  'special',
] as const;

export function templateFromSeed(seed: TemplateSeed, now: number): ProviderTemplate {
  return {
    templateId: seed.templateId ?? randomBytes(16).toString('hex'),
    title: seed.title,
    message: seed.message,
    createdAt: now,
  };
}

export function findTemplate(state: SandboxState, templateId: string): ProviderTemplate | undefined {
  return state.templates.find((t) => t.templateId === templateId);
}

/**
 * Fills each documented placeholder with the recipient's value, or with nothing when the recipient
 * has none (undocumented: our choice); any other `{word}` is left as written.
 */
export function renderTemplate(message: string, recipient: Record<string, unknown>): string {
  return message.replace(/\{([a-z_0-9]+)\}/g, (placeholder, name: string) => {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(name)) return placeholder;
    const value = recipient[name];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
  });
}

/** GET get-template, in the documented shape: capital-M `Message`, `per_page` beside the page block. */
export function getTemplate(state: SandboxState, rawPage: unknown): ProviderReply {
  const page = pageOf(state.templates, rawPage, state.options.pageSize);
  if (page instanceof ProviderReply) return page;
  return new ProviderReply(200, 'SUCCESS', `You have ${state.templates.length} Template(s)`, {
    page: page.block,
    total: String(state.templates.length),
    per_page: state.options.pageSize,
    responses: page.rows.map((t) => ({
      template_id: t.templateId,
      message_title: t.title,
      Message: t.message,
      created_at: formatProviderTime(t.createdAt, state.timezone),
    })),
  });
}
