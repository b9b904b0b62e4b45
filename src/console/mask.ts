import { maskPhoneNumbers } from '../observability';

/** A phone number with all but its last 3 digits hidden (`+61412345678` → `+********678`). */
export function maskNumber(number: string): string {
  return number.replace(/\d(?=\d{3})/g, '*');
}

/** Every phone number inside the JSON text's strings masked (as in the logs): for event bodies. */
export function maskJson(json: string): string {
  return maskPhoneNumbers(json);
}

/** A webhook URL as the console shows it: scheme and host only (a path or query may hold a token). */
export function urlHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(invalid URL)';
  }
}
