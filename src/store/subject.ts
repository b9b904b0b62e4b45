import type { ExpressionBuilder } from 'kysely';
import type { Database } from './database';

/** Rows of one end user: `subject = ?`, or `subject is null` for a token without one. */
export function ownedBy(subject: string | null | undefined) {
  return (eb: ExpressionBuilder<Database, 'messages' | 'events' | 'inbound_messages'>) =>
    subject === null || subject === undefined ? eb('subject', 'is', null) : eb('subject', '=', subject);
}
