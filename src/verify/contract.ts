import { z } from 'zod';

// The verification routes' requests and answers, as zod schemas (validated and documented).

export const startRequestSchema = z
  .strictObject({
    to: z.string().min(1).max(32).meta({ description: 'The number to verify; national or E.164' }),
    channel: z.literal('sms'),
    locale: z
      .string()
      .max(16)
      .optional()
      .meta({ description: 'Picks the template of verification.localeTemplates; else the default' }),
  })
  .meta({ id: 'VerificationRequest' });

const codeSchema = z.string().regex(/^[0-9]{4,10}$/, 'expected the 4–10 digit code');

export const checkByIdSchema = z.strictObject({ code: codeSchema }).meta({ id: 'VerificationCheck' });

export const checkByNumberSchema = z
  .strictObject({ to: z.string().min(1).max(32), code: codeSchema })
  .meta({ id: 'VerificationCheckByNumber' });

export const verificationSchema = z
  .object({
    id: z.string(),
    to: z.string(),
    status: z.literal('pending'),
    expiresAt: z.string(),
  })
  .meta({ id: 'Verification' });

export const checkResultSchema = z
  .object({
    id: z.string(),
    to: z.string(),
    status: z.enum(['approved', 'denied']),
    reason: z.enum(['wrong_code', 'expired', 'locked', 'canceled', 'approved', 'failed']).nullable().meta({
      description:
        'Why it was denied: wrong_code, expired, locked (no checks left), canceled (a newer code was sent), approved (already used), failed (never sent)',
    }),
    checksLeft: z.number().int(),
  })
  .meta({ id: 'VerificationCheckResult' });
