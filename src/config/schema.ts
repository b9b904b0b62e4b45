import { z } from 'zod';
import { isValidAllowEntry } from '../egress';

// The single source of truth for configuration. Every key has a default that suits the embedded
// sandbox mode, so `npm start` needs no file; production overrides come from SMSGATE_CONFIG and env.

/**
 * `sms:send`: free text and templates to any allowed recipient. Without it, `sms:send:self` limits
 * the recipients to the token's own verified phone number and `sms:send:template` the text to
 * templates (both: both limits). `sms:read`: what the token's `sub` sent (its messages, replies to
 * them, their events); `sms:read:all`: the whole tenant (and implies `sms:read` for route access).
 * `verify:send` / `verify:check`: phone verification codes.
 */
export const scopeSchema = z.enum([
  'sms:send',
  'sms:read',
  'admin',
  'sms:send:self',
  'sms:read:all',
  'sms:send:template',
  'verify:send',
  'verify:check',
]);
export type Scope = z.infer<typeof scopeSchema>;

/** Sender ids as the provider accepts them: letters, digits, space and dash. */
const senderId = z.string().regex(/^[A-Za-z0-9 -]*$/, 'expected letters, digits, spaces or dashes');

/** libphonenumber's number types (getType()), lower-cased. */
export const NUMBER_TYPES = [
  'mobile',
  'fixed_line_or_mobile',
  'fixed_line',
  'toll_free',
  'premium_rate',
  'shared_cost',
  'voip',
  'personal_number',
  'pager',
  'uan',
  'voicemail',
] as const;
export type NumberType = (typeof NUMBER_TYPES)[number];

const countryCode = z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166 alpha-2 country code such as AU');

/** Standard Webhooks secrets: `whsec_` + base64 of 24–64 random bytes. */
const webhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'expected whsec_ followed by base64 of 24–64 random bytes');

const addressAllowEntry = z
  .string()
  .refine(isValidAllowEntry, 'expected an IP address, IP:port, [IPv6]:port or a CIDR range');

/** A web origin (scheme://host[:port]) a browser app calls the API from. */
const webOrigin = z
  .url({ protocol: /^https?$/, error: 'expected an origin such as https://app.example.com' })
  .refine((value) => new URL(value).origin === value, 'expected an origin: scheme://host[:port], no path');

const requestRate = z.strictObject({
  requests: z.number().int().positive(),
  windowSec: z.number().int().positive().max(86_400),
});

const segmentQuota = z.strictObject({
  segmentsPerDay: z.number().int().positive().optional(),
  segmentsPerMonth: z.number().int().positive().optional(),
});

export const DEFAULT_OPT_OUT_KEYWORDS = [
  'STOP',
  'STOP ALL',
  'UNSUBSCRIBE',
  'OPT OUT',
  'OPTOUT',
  'CANCEL',
  'END',
  'QUIT',
] as const;
export const DEFAULT_OPT_IN_KEYWORDS = ['START', 'UNSTOP'] as const;

const fieldName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,39}$/, 'expected a field name (letters, digits, _ or -)');

const templateId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected a template id: a-z, 0-9, _ or -');

/** A message template: fixed text with {{field}} placeholders, each declared with its type and length. */
const messageTemplate = z.strictObject({
  text: z.string().min(1).max(1000),
  fields: z
    .record(
      fieldName,
      z.strictObject({
        /** `digits`: 0-9; `gsm`: GSM-7 characters; `text`: any (line breaks refused in every type). */
        type: z.enum(['text', 'gsm', 'digits']).default('text'),
        maxLength: z.number().int().positive().max(500),
      }),
    )
    .default({}),
  /** Sender id of this template's messages (else the tenant's default); callers cannot choose another. */
  sender: senderId.optional(),
  /** The rendered text may use at most this many segments, even with every field at its maxLength. */
  maxSegments: z.number().int().min(1).max(6).default(1),
});
export type TemplateConfig = z.infer<typeof messageTemplate>;

/**
 * Phone verification for one tenant. Caps count codes sent in the last hour (a sliding hour);
 * defaults are deliberately low: a real sign-up flow rarely needs more, and SMS pumping is paid for.
 */
const verification = z.strictObject({
  /** The template the code is sent with; it must declare the field `code` (type digits). */
  template: templateId,
  /** Other templates by locale (`fr`, `pt-BR`); an unknown or absent locale uses `template`. */
  localeTemplates: z
    .record(z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'expected a locale such as fr or pt-BR'), templateId)
    .default({}),
  codeLength: z.number().int().min(4).max(10).default(6),
  ttlSec: z.number().int().min(60).max(3600).default(600),
  /** Checks one code allows; after the last wrong one it is locked. */
  maxChecks: z.number().int().min(1).max(10).default(5),
  /** Least time between two codes to one number. */
  resendCooldownSec: z.number().int().min(0).max(3600).default(30),
  perNumberPerHour: z.number().int().positive().default(5),
  /** The range of a number: the country code and this many digits after it. */
  prefixLength: z.number().int().min(1).max(10).default(5),
  perPrefixPerHour: z.number().int().positive().default(10),
  perCountryPerHour: z.number().int().positive().default(100),
  /** Per client IP (behind http.trustProxy hops), whatever token it holds. */
  perIpPerHour: z.number().int().positive().default(10),
  /**
   * A range with at least `minRequests` requests in the last hour of which fewer than
   * `minApprovedRatio` ended approved is refused for the rest of that hour, and fraud.suspected is
   * sent to the admin channel.
   */
  fraud: z
    .strictObject({
      minRequests: z.number().int().positive().default(20),
      minApprovedRatio: z.number().min(0).max(1).default(0.2),
    })
    .prefault({}),
});
export type VerificationConfig = z.infer<typeof verification>;

const tenant = z.strictObject({
  /**
   * Scopes a token of this tenant may carry; scopes outside this list are ignored. The default
   * includes sms:read:all, so a backend's token that asks for it keeps reading the whole tenant.
   */
  scopes: z.array(scopeSchema).min(1).default(['sms:send', 'sms:read', 'sms:read:all']),
  /** Sender id used when a request names none; '' means the provider's shared number. */
  defaultSender: senderId.default(''),
  /** When set, `from` must be one of these. */
  allowedSenders: z.array(senderId).optional(),
  allowedCountries: z.array(countryCode).min(1).default(['AU']),
  /**
   * Kinds of number this tenant may send to, as libphonenumber classifies them. Mobiles only by
   * default (fixed_line_or_mobile: countries such as the US where the two cannot be told apart):
   * a landline cannot receive the SMS, and premium-rate or shared-cost numbers cost the account.
   */
  numberTypes: z.array(z.enum(NUMBER_TYPES)).min(1).default(['mobile', 'fixed_line_or_mobile']),
  /** Share of the upstream budget when several tenants wait (2 = twice a weight-1 tenant's share). */
  weight: z.number().positive().max(1000).default(1),
  /** Requests this tenant may make per window, over all /v1 routes. */
  rateLimit: requestRate.default({ requests: 300, windowSec: 60 }),
  /** Segments (recipients x segments per message) this tenant may send per period; unset = no quota. */
  quota: segmentQuota
    .extend({
      /** The same in provider credits (segments x the recipient country's cost, `credits`). */
      creditsPerDay: z.number().positive().optional(),
      creditsPerMonth: z.number().positive().optional(),
    })
    .default({}),
  /**
   * Team backends that may get tokens with POST /v1/auth/token (OAuth2 client credentials). Only
   * the SHA-256 of each secret is configured: `printf %s "$SECRET" | sha256sum`.
   */
  clients: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, 'expected 3–64 letters, digits, . _ or -'),
        secretSha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the hex SHA-256 of the client secret'),
        /** Scopes its tokens carry (within the tenant's); default: the tenant's. */
        scopes: z.array(scopeSchema).optional(),
      }),
    )
    .default([]),
  /** What a send is when it does not say (`purpose`): marketing sends skip suppressed numbers. */
  defaultPurpose: z.enum(['marketing', 'transactional']).default('marketing'),
  /** Opt-outs (Spam Act): reply keywords, the opt-out instruction marketing texts carry, acknowledgements. */
  optOut: z
    .strictObject({
      /** A reply that is one of these (case, spaces and punctuation ignored) suppresses the number. */
      keywords: z
        .array(z.string().min(1).max(40))
        .min(1)
        .default([...DEFAULT_OPT_OUT_KEYWORDS]),
      /** A reply that is one of these takes the number off the list again. */
      optInKeywords: z.array(z.string().min(1).max(40)).default([...DEFAULT_OPT_IN_KEYWORDS]),
      /** What counts as an opt-out instruction in a marketing text (a case-insensitive regular expression). */
      instructionPattern: z
        .string()
        .refine((value) => {
          try {
            new RegExp(value, 'iu');
            return true;
          } catch {
            return false;
          }
        }, 'expected a regular expression')
        .default('\\b(STOP|UNSUBSCRIBE|OPT[ -]?OUT)\\b'),
      /**
       * Marketing texts must carry an opt-out instruction (matching instructionPattern):
       * `off`, `refuse` (FIELD_INVALID without one) or `append` (the footer is added, and counted).
       */
      requireInstruction: z.enum(['off', 'refuse', 'append']).default('off'),
      footer: z.string().min(1).max(160).default('Reply STOP to opt out'),
      /** Texts sent back (through the budget, once per number per day) when a number opts out or in. */
      acknowledgement: z
        .strictObject({
          optedOut: z.string().min(1).max(320).optional(),
          optedIn: z.string().min(1).max(320).optional(),
        })
        .optional(),
    })
    .prefault({}),
  /** Where this tenant's events (message.status, message.inbound) are POSTed, signed per Standard Webhooks. */
  webhook: z
    .strictObject({
      url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
      secret: webhookSecret,
      /** The secret being retired during a rotation: deliveries carry a signature for each. */
      previousSecret: webhookSecret.optional(),
    })
    .optional(),
  /**
   * Browser apps on these origins may call the API and open the event stream (CORS). A preflight
   * carries no token, so it is granted to an origin any tenant lists; the real request only when
   * the token's own tenant lists it.
   */
  cors: z
    .strictObject({
      allowedOrigins: z.array(webOrigin).default([]),
      /** How long a browser may cache a preflight answer. */
      maxAgeSec: z.number().int().min(0).max(86_400).default(600),
    })
    .prefault({}),
  /**
   * Limits of each end user (each token `sub`) inside the tenant's own; unset = none. Tokens that
   * hold sms:read:all (the tenant's backends) are limited by the tenant's limits alone.
   */
  perUser: z
    .strictObject({
      rateLimit: requestRate.optional(),
      quota: segmentQuota.default({}),
    })
    .prefault({}),
  /** Message templates (POST /v1/messages with `template`); the only texts an sms:send:template token may send. */
  templates: z.record(templateId, messageTemplate).default({}),
  /** Phone verification (POST /v1/verifications); unset = off for this tenant. */
  verification: verification.optional(),
});
export type TenantConfig = z.infer<typeof tenant>;

const port = z.number().int().min(0).max(65535);

/** An origin such as https://www.example.com, or `self` (the gateway's own origin: pages it serves). */
const origin = z.union([
  z.literal('self'),
  z
    .url()
    .refine((value) => new URL(value).origin === value, 'expected an origin: scheme://host[:port], no path'),
]);

/** An absolute URL, or a path on this gateway. */
const redirectTarget = z.union([
  z.url({ protocol: /^https?$/ }),
  z.string().regex(/^\/[^/\\]/, 'expected a URL or a /path'),
]);

const captcha = z.discriminatedUnion('provider', [
  /** Explicitly no CAPTCHA: refused in production mode, and no reply to submitters. */
  z.strictObject({ provider: z.literal('none') }),
  z.strictObject({
    provider: z.enum(['turnstile', 'hcaptcha', 'recaptcha']),
    secret: z.string().min(1),
    /** The provider's siteverify URL by default; tests and the sandbox point it at a loopback fake. */
    verifyUrl: z.url().optional(),
    /** hCaptcha: the site key the token must belong to. */
    siteKey: z.string().optional(),
    /** Refuse tokens solved on another hostname / for another action (when the verifier reports them). */
    expectedHostname: z.string().optional(),
    expectedAction: z.string().optional(),
    /** reCAPTCHA v3 / hCaptcha Enterprise: lowest score accepted. */
    minScore: z.number().min(0).max(1).optional(),
    timeoutMs: z.number().int().positive().max(30_000).default(5_000),
  }),
]);

/** A public contact form: anonymous posts become an SMS to fixed recipients, never chosen by the browser. */
const form = z.strictObject({
  /** The tenant it bills (quota, upstream share, sender). */
  tenant: z.string(),
  /** The business's own numbers. The browser never chooses a destination. */
  recipients: z.array(z.string().min(3)).min(1).max(10),
  /** The SMS text, with {{field}} placeholders. */
  template: z.string().min(1).max(1000),
  fields: z
    .record(
      fieldName,
      z.strictObject({
        required: z.boolean().default(false),
        maxLength: z.number().int().positive().max(2000).default(200),
      }),
    )
    .default({}),
  /** Origins allowed to post (Origin, else Referer, must match); CORS preflight answered only for these. */
  allowedOrigins: z.array(origin).min(1),
  /** Plain HTML posts (no JavaScript) are answered 303 to here; JSON posts get the envelope. */
  successRedirect: redirectTarget.optional(),
  /** A field longer than its maxLength is cut to it (`truncate`) or refused (`reject`). */
  overLength: z.enum(['truncate', 'reject']).default('truncate'),
  /** The rendered text may use at most this many SMS segments. */
  maxSegments: z.number().int().min(1).max(6).default(2),
  /** A hidden field humans leave empty; when filled, the post is answered like success and nothing is sent. */
  honeypotField: fieldName.default('website'),
  captcha,
  limits: z
    .strictObject({
      /** Posts per client IP per hour (the client IP behind http.trustProxy hops). */
      perIpPerHour: z.number().int().positive().default(5),
      /** SMS this form may cause per hour and per day, whoever posts. */
      perHour: z.number().int().positive().default(30),
      perDay: z.number().int().positive().default(200),
    })
    .prefault({}),
  /** Optional confirmation SMS to the submitter: needs a CAPTCHA; once per number per day. */
  reply: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** The form field holding the submitter's number. */
      field: fieldName.default('phone'),
      template: z.string().min(1).max(320),
      allowedCountries: z.array(countryCode).min(1).default(['AU']),
    })
    .optional(),
});
export type FormConfig = z.infer<typeof form>;

export const configSchema = z.strictObject({
  /** `sandbox` starts the built-in provider simulator in-process and points the upstream at it. */
  mode: z.enum(['sandbox', 'production']).default('sandbox'),
  http: z
    .strictObject({
      port: port.default(8080),
      host: z.string().default('0.0.0.0'),
      /** Number of trusted reverse-proxy hops in front of the gateway (Express `trust proxy`). */
      trustProxy: z.number().int().min(0).max(10).default(0),
      /** Refuse plain HTTP that did not come through a trusted proxy (loopback is exempt in sandbox mode). */
      requireHttps: z.boolean().default(true),
      bodyLimit: z
        .string()
        .regex(/^[0-9]+(b|kb|mb)$/, 'expected a size such as 100kb')
        .default('100kb'),
      keepAliveTimeoutMs: z.number().int().positive().default(65_000),
      headersTimeoutMs: z.number().int().positive().default(66_000),
      requestTimeoutMs: z.number().int().positive().default(30_000),
      /**
       * Connections the kernel queues before the gateway accepts them (listen backlog; the kernel caps
       * it at net.core.somaxconn). Node's default of 511 resets a burst of new connections.
       */
      backlog: z.number().int().positive().max(65_535).default(4_096),
      /**
       * Access log: one in this many 2xx/3xx and 429 answers is logged at info, the rest at debug;
       * 5xx and other 4xx answers always. 1 = every answer at info.
       */
      accessLogSampleEvery: z.number().int().min(1).max(1_000_000).default(100),
      /**
       * Requests of one tenant being answered at once on this replica; more are refused with
       * 429 OVER_LIMIT before any work is done (0 = no bound). Above 1000: that many single sends of
       * one text may wait together for one coalesced provider call.
       */
      maxInFlightPerTenant: z.number().int().min(0).default(2000),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** HS256 secret for tokens smsgate signs itself (SMSGATE_JWT_SECRET or SMSGATE_JWT_SECRET_FILE). */
      jwtSecret: z.string().min(32, 'expected at least 32 characters of secret').optional(),
      /** Accepted algorithms; never taken from the token. */
      algorithms: z
        .array(z.enum(['HS256', 'RS256', 'ES256']))
        .min(1)
        .default(['HS256']),
      jwksUrl: z.url().optional(),
      issuer: z.string().min(1).optional(),
      audience: z.string().min(1).optional(),
      /**
       * Where the tenant id is in the token: a claim name, or a path into nested claims with dots
       * (`app_metadata.tenant`, `https://example.com/claims.tenant`); at each level the longest
       * key that matches is taken, so a namespaced claim name with dots in it needs no escaping.
       */
      tenantClaim: z.string().min(1).default('tenant'),
      /** The end user's phone number (E.164) and whether the identity provider verified it (sms:send:self). Paths as for tenantClaim. */
      phoneNumberClaim: z.string().min(1).default('phone_number'),
      phoneNumberVerifiedClaim: z.string().min(1).default('phone_number_verified'),
      clockToleranceSec: z.number().int().min(0).max(300).default(30),
      /**
       * Longest token lifetime (exp - iat) accepted, and the longest `npm run token` mints. 24 h:
       * a leaked token is useful for a day at most, and it still admits common identity-provider
       * access tokens (Auth0's default lifetime is 24 h, Cognito's maximum is 24 h).
       */
      maxTokenTtlSec: z.number().int().positive().default(86_400),
      /** Lifetime of tokens from POST /v1/auth/token. */
      clientTokenTtlSec: z.number().int().positive().max(86_400).default(900),
      /**
       * Tokens already verified, kept by their SHA-256 until their exp (0 = verify every request).
       * A JWKS token is still checked against the JWKS key set on every use.
       */
      tokenCacheEntries: z.number().int().min(0).max(1_000_000).default(10_000),
      /** How long keys fetched from auth.jwksUrl are trusted before the set is fetched again (a removed key stops working after this). */
      jwksCacheMaxAgeSec: z.number().int().min(1).max(86_400).default(600),
    })
    .prefault({}),
  /** Callers' tenants; none built in outside sandbox mode (checked: at least one). */
  tenants: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected a lower-case tenant id'), tenant)
    .default({}),
  messages: z
    .strictObject({
      /** Region for numbers written without a country code, e.g. 0412 345 678. */
      defaultRegion: countryCode.default('AU'),
      /** A durable (`Prefer: respond-async`) send still not sent after this long ends `expired`. */
      asyncExpirySec: z
        .number()
        .int()
        .positive()
        .max(7 * 86_400)
        .default(86_400),
      maxRecipients: z.number().int().min(1).max(1000).default(1000),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      /** Provider API root; in sandbox mode it is set to the embedded sandbox. */
      baseUrl: z.url().default('https://cellcast.com.au/api/v3/'),
      /** `appkey`: the APPKEY header the provider really uses; `basic`: HTTP Basic, as its overview page words it. */
      authMode: z.enum(['appkey', 'basic']).default('appkey'),
      /** The provider secret (SMSGATE_APPKEY or SMSGATE_APPKEY_FILE). */
      appKey: z.string().min(8, 'expected the provider APPKEY').optional(),
      timeoutMs: z.number().int().positive().default(10_000),
      /** The account's cap on provider calls in any rolling second. */
      callsPerSecond: z.number().int().positive().default(15),
      /**
       * Added to the one-second window: a call leaves the gateway a little after it takes its slot
       * and reaches the provider with some jitter. Any delay below the margin can never put 16
       * calls in the provider's second; the price is a sustained rate of at most
       * callsPerSecond x 1000 / (1001 + margin) (95.1 % at 50, 94.2 % at 60).
       */
      windowMarginMs: z.number().int().min(0).max(500).default(50),
      /**
       * Spread grants evenly over the window (one every (1001 + margin) / callsPerSecond ms) on a
       * single node. Off only for a gateway on a clock that does not move by itself (tests); the
       * sliding log still holds the cap either way.
       */
      paceGrants: z.boolean().default(true),
      /**
       * Grants that may go at once when the budget has been idle (a quiet tenant's pair of sends
       * is not held for the next even slot); beyond them grants are paced. Capped at callsPerSecond.
       */
      grantBurst: z.number().int().min(1).max(1000).default(3), // DEFAULT_GRANT_BURST (src/scheduler/pacer.ts)
      /** How long a request may wait for an upstream slot before 429 OVER_LIMIT. */
      maxQueueWaitMs: z.number().int().positive().default(5_000),
      maxQueueLength: z.number().int().positive().default(10_000),
      /**
       * Sends of one tenant with the same text, sender and schedule that wait for a slot together
       * go out as one provider call (up to 1000 numbers). windowMs: least time a group stays open.
       */
      coalesce: z
        .strictObject({
          enabled: z.boolean().default(true),
          windowMs: z.number().int().min(0).max(5000).default(0),
        })
        .prefault({}),
      /** Also send different messages of a tenant that wait together as one bulk-send-sms call. */
      bulkSend: z.boolean().default(false),
      /** Timezone the provider reads `schedule_time` in (undocumented; Australian local time is the best guess). */
      timezone: z.string().default('Australia/Sydney'),
    })
    .prefault({}),
  sandbox: z
    .strictObject({
      port: port.default(0),
      host: z.string().default('127.0.0.1'),
      callsPerSecond: z.number().int().positive().default(15),
      pageSize: z.number().int().positive().default(25),
      dlrDelayMs: z.number().int().min(0).default(2_000),
      dlrCallbackUrl: z.url().optional(),
      inboundCallbackUrl: z.url().optional(),
      /** The identity-provider stand-in (login page, JWKS) for the example app; 0 = any free port. */
      identityProviderPort: port.default(0),
      /** The cross-origin example app (the demo tenant's end users); 0 = any free port. */
      exampleAppPort: port.default(0),
    })
    .prefault({}),
  redis: z
    .strictObject({
      /** Set (or REDIS_URL) to share the upstream budget between replicas. */
      url: z
        .string()
        .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
        .optional(),
      keyPrefix: z.string().min(1).default('smsgate'),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      /**
       * Replicas sharing the account: while Redis is down each keeps callsPerSecond / replicas, and
       * while fewer than this many are heard from in Redis, the share of each missing one is held
       * back from the others (it may be sending on its own). Set it to the number you run.
       */
      replicas: z.number().int().positive().default(1),
    })
    .prefault({}),
  callbacks: z
    .strictObject({
      /**
       * Secrets in the provider's callback URLs (/v1/callbacks/cellcast/<token>/dlr); two during a
       * rotation. SMSGATE_CALLBACK_TOKEN[_FILE]; generated per process in sandbox mode.
       */
      tokens: z.array(z.string().min(32, 'expected at least 32 random characters')).max(2).default([]),
      /** Optional HTTP Basic credentials the provider must also present (put them in the callback URL). */
      basicAuth: z.strictObject({ username: z.string().min(1), password: z.string().min(16) }).optional(),
      /** Optional source addresses (CIDR or IP) the callbacks must come from; empty = any. Needs http.trustProxy right. */
      allowedIps: z.array(addressAllowEntry).default([]),
    })
    .prefault({}),
  inbound: z
    .strictObject({
      /** Inbound SMS that is no reply to a known message and matches no rule goes here (unset: kept, routed to nobody). */
      defaultTenant: z.string().optional(),
      /** First-word keyword → tenant, checked in order (case-insensitive). */
      rules: z
        .array(
          z.strictObject({ keyword: z.string().regex(/^\S+$/, 'expected one word'), tenant: z.string() }),
        )
        .default([]),
      /**
       * Backstop for lost inbound callbacks: every this many ms, read the provider's unread replies
       * (get-responses, through the upstream budget), store any we missed, then mark them read. 0 = off.
       */
      pollIntervalMs: z.number().int().min(0).default(60_000),
    })
    .prefault({}),
  webhooks: z
    .strictObject({
      /** One delivery attempt may take this long before it counts as failed. */
      timeoutMs: z.number().int().positive().max(60_000).default(15_000),
      /** Gaps after each failed attempt; after the last one the delivery is dead-lettered (default: ~3 days). */
      retryScheduleSec: z
        .array(z.number().positive())
        .min(1)
        .default([5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400]),
      /** Each gap is stretched or shrunk by up to this fraction, at random, so receivers are not stampeded. */
      jitter: z.number().min(0).max(0.5).default(0.2),
      /** Deliveries in flight at once, and per tenant (one slow receiver cannot hold up the others). */
      concurrency: z.number().int().positive().max(256).default(16),
      perTenantConcurrency: z.number().int().positive().max(64).default(4),
      /** How often the worker looks for due retries; new events are sent at once. */
      pollIntervalMs: z.number().int().positive().default(1_000),
      /**
       * Webhook targets on loopback, private, link-local or other non-public addresses are refused
       * (SSRF) unless listed here: `10.0.0.0/8`, `127.0.0.1:9000`, `[::1]:9000`.
       */
      allowPrivateTargets: z.array(addressAllowEntry).default([]),
    })
    .prefault({}),
  forms: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a form id: a-z, 0-9, -'), form)
    .default({}),
  events: z
    .strictObject({
      /** A comment line on idle Server-Sent Events streams, so proxies keep them open. */
      heartbeatMs: z.number().int().positive().default(15_000),
      /** Lifetime of a single-use ticket from POST /v1/events/tickets. */
      ticketTtlSec: z.number().int().positive().max(600).default(60),
      /** At most this many missed events are replayed on reconnect with Last-Event-ID. */
      replayLimit: z.number().int().positive().max(100_000).default(1_000),
      /**
       * Open streams one tenant may hold on one replica; one more is 429 OVER_LIMIT. Each stream is
       * a socket (a file descriptor) and a heartbeat timer: 100 leaves room for a busy dashboard
       * per tenant while several tenants together stay well under the common 1024-descriptor limit.
       */
      maxStreamsPerTenant: z.number().int().positive().max(100_000).default(100),
      /**
       * Bytes of events a stream may hold back while its client does not read; past this the stream
       * is closed and the client resumes with Last-Event-ID (replayed from the store, nothing lost).
       */
      maxBufferedBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(262_144),
    })
    .prefault({}),
  optOuts: z
    .strictObject({
      /** `tenant`: an opt-out applies to the tenant whose message was answered; `account`: to every tenant. */
      scope: z.enum(['tenant', 'account']).default('tenant'),
      /**
       * The provider's own opt-out list (get-optout, every page) is read this often, through the
       * upstream budget, and stored as account-wide suppressions. 0 = off.
       */
      importIntervalMs: z.number().int().min(0).default(3_600_000),
    })
    .prefault({}),
  account: z
    .strictObject({
      /** The provider balance (`account`) is read this often, through the upstream budget. 0 = off. */
      pollIntervalMs: z.number().int().min(0).default(300_000),
      /** Below this SMS balance, `account.low_balance` is emitted once (again only after a top-up). */
      lowBalanceThreshold: z.number().min(0).optional(),
      /** Tenants told about account.low_balance; default: every tenant allowed the `admin` scope. */
      notifyTenants: z.array(z.string()).optional(),
    })
    .prefault({}),
  /** Provider credits per SMS segment, by recipient country (international SMS costs more). */
  credits: z
    .strictObject({
      default: z.number().positive().max(100).default(1),
      countries: z.record(countryCode, z.number().positive().max(100)).default({}),
    })
    .prefault({}),
  verification: z
    .strictObject({
      /**
       * Key of the HMAC under which codes are stored (SMSGATE_VERIFICATION_SECRET[_FILE]); the same
       * on every replica. Required in production mode when a tenant has verification; random per
       * process in sandbox mode.
       */
      secret: z.string().min(32, 'expected at least 32 random characters').optional(),
      /** How often pending codes past their expiry are marked expired (verification.expired). */
      sweepIntervalSec: z.number().int().positive().max(3600).default(30),
    })
    .prefault({}),
  /** Operators' events (fraud.suspected): signed webhook POSTs, and GET /v1/admin/events for admin tokens. */
  adminEvents: z
    .strictObject({
      webhook: z
        .strictObject({
          url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
          secret: webhookSecret,
        })
        .optional(),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
      token: z.string().min(16).optional(),
    })
    .prefault({}),
  tls: z
    .strictObject({
      /** PEM files: when both are set the gateway serves HTTPS itself (and sends HSTS). */
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      hstsMaxAgeSec: z.number().int().min(0).default(31_536_000),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /**
       * After SIGTERM, readiness fails at once but requests are still served this long, each told
       * `Connection: close`, so load balancers and keep-alive clients move away without a reset.
       */
      drainDelayMs: z.number().int().min(0).max(120_000).default(5_000),
      /** Then new connections stop and in-flight requests get this long to finish. */
      graceMs: z.number().int().min(0).max(300_000).default(15_000),
    })
    .prefault({}),
  idempotency: z
    .strictObject({
      /** How long an Idempotency-Key and its answer are kept (a reuse after that is a new request). */
      retentionSec: z
        .number()
        .int()
        .positive()
        .max(30 * 86_400)
        .default(86_400),
      /** Expired keys are deleted this often (each replica sweeps; the store stays bounded). */
      sweepIntervalSec: z.number().int().positive().max(86_400).default(300),
      /** Keys deleted per statement, so a sweep never holds the table for long. */
      sweepBatchSize: z.number().int().positive().max(100_000).default(500),
    })
    .prefault({}),
  quotas: z
    .strictObject({
      /** Where a day and a month begin and end for quotas. */
      timezone: z.string().default('Australia/Sydney'),
    })
    .prefault({}),
  store: z
    .strictObject({
      sqliteFile: z.string().min(1).default('data/smsgate.db'),
      /** postgres://… (DATABASE_URL): the store for several replicas; the SQLite file is then unused. */
      databaseUrl: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
        .optional(),
    })
    .prefault({}),
  console: z
    .strictObject({
      /** Serves the operator console at /console and its data routes under /v1/admin/console. */
      enabled: z.boolean().default(true),
      /** Per-minute counters are written to the store this often (and before every console read). */
      flushIntervalMs: z.number().int().min(100).max(60_000).default(5_000),
      /** Per-minute counters older than this are folded into hourly ones (the 24 h charts read minutes). */
      minuteRetentionHours: z
        .number()
        .int()
        .min(24)
        .max(24 * 14)
        .default(48),
      /** Hourly counters older than this are deleted (the 30-day charts read hours). */
      hourRetentionDays: z.number().int().min(30).max(800).default(90),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
