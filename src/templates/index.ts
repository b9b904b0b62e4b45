// Message templates: fixed texts with declared {{field}} placeholders, checked at config load
// (every placeholder declared, every field used, the segment cap held at the longest values) and
// rendered from a caller's params, so a template sender never chooses the text.
export {
  renderTemplate,
  checkTemplate,
  placeholdersOf,
  TemplateParamError,
  type TemplateDefinition,
} from './templates';
