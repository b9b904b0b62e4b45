// The example app (sandbox mode): sign in at the identity provider, verify your number with a code
// by SMS (`verify:send`, `verify:check`), send to your own number with `sms:send:self`, and watch
// the message's status arrive over the event stream. Bundled by the
// sandbox with esbuild; it uses the client in client/ as an app would use the published package.
import { createClient, SmsgateError, type GatewayEvent, type SmsgateClient } from '../../client/src/index';

interface AppConfig {
  gatewayUrl: string;
  authorizeUrl: string;
  clientId: string;
}

interface Session {
  token: string;
  sub: string;
  phoneNumber: string | undefined;
  phoneNumberVerified: boolean;
  /** Seconds since the epoch. */
  exp: number;
}

const SESSION_KEY = 'smsgate-example-session';
const STATE_KEY = 'smsgate-example-state';

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function showError(error: unknown): void {
  const box = element('error');
  box.hidden = false;
  box.textContent =
    error instanceof SmsgateError
      ? `${error.code}: ${error.description}`
      : error instanceof Error
        ? error.message
        : String(error);
}

/** The claims of a JWT, read for display only (the gateway is the one that verifies it). */
function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  const bytes = Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** The token the identity provider put in the fragment on the way back, if this is that moment. */
function sessionFromRedirect(): Session | undefined {
  if (!location.hash.includes('access_token=')) return undefined;
  const answer = new URLSearchParams(location.hash.slice(1));
  // The fragment leaves the address bar (and history) at once.
  history.replaceState(null, '', location.pathname);
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  if (!expected || answer.get('state') !== expected) {
    showError(
      new Error('sign-in: the answer does not match the request made from here (state); sign in again'),
    );
    return undefined;
  }
  const token = answer.get('access_token') ?? '';
  const claims = claimsOf(token);
  const session: Session = {
    token,
    sub: String(claims.sub ?? ''),
    phoneNumber: typeof claims.phone_number === 'string' ? claims.phone_number : undefined,
    phoneNumberVerified: claims.phone_number_verified === true,
    exp: Number(claims.exp ?? 0),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

function storedSession(): Session | undefined {
  const text = sessionStorage.getItem(SESSION_KEY);
  const session = text ? (JSON.parse(text) as Session) : undefined;
  return session && session.exp * 1000 > Date.now() + 10_000 ? session : undefined;
}

function signIn(config: AppConfig): void {
  const state = crypto.randomUUID();
  sessionStorage.setItem(STATE_KEY, state);
  const query = new URLSearchParams({
    response_type: 'token',
    client_id: config.clientId,
    redirect_uri: `${location.origin}/`,
    state,
  });
  location.assign(`${config.authorizeUrl}?${query.toString()}`);
}

function showSignedIn(config: AppConfig, session: Session): void {
  element('signed-in').hidden = false;
  element('user').textContent = session.sub;
  element('phone').textContent = session.phoneNumber ?? '(none)';
  element('verified').textContent = session.phoneNumberVerified ? '(verified)' : '(not verified)';
  element('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(SESSION_KEY);
    location.reload();
  });

  const client = createClient({ baseUrl: config.gatewayUrl, token: session.token });
  const statuses = new Map<string, string>();
  let current: string | undefined;
  const status = element<HTMLOutputElement>('status');
  const show = (id: string) => {
    const value = statuses.get(id);
    if (id !== current || !value) return;
    status.textContent = value;
    status.dataset.status = value;
  };

  followEvents(client, (event) => {
    const item = document.createElement('li');
    item.textContent = `${event.type} ${JSON.stringify(event.data)}`;
    element('events').prepend(item);
    if (event.type === 'message.status') {
      statuses.set(event.data.messageId, event.data.status);
      show(event.data.messageId);
    }
  });

  verifyNumber(client, session);

  const form = element<HTMLFormElement>('send-form');
  form.addEventListener('submit', (submitted) => {
    submitted.preventDefault();
    element('error').hidden = true;
    const text = String(new FormData(form).get('text') ?? '');
    const button = form.querySelector('button') as HTMLButtonElement;
    button.disabled = true;
    client
      .send({ to: session.phoneNumber ?? '', text })
      .then((sent) => {
        const message = sent.messages[0];
        if (!message) return;
        current = message.id;
        element('message-id').textContent = message.id;
        // The stream may have told us already (a fast delivery report); otherwise the answer's status.
        if (!statuses.has(message.id)) statuses.set(message.id, message.status);
        show(message.id);
      })
      .catch(showError)
      .finally(() => (button.disabled = false));
  });
}

/** "Verify my number": a code by SMS to the signed-in user's own number, then its check. */
function verifyNumber(client: SmsgateClient, session: Session): void {
  const start = element<HTMLButtonElement>('verify-start');
  const form = element<HTMLFormElement>('verify-form');
  const input = element<HTMLInputElement>('verify-code');
  const result = element<HTMLOutputElement>('verify-result');
  const show = (status: string, text: string) => {
    result.dataset.status = status;
    result.textContent = text;
  };
  let verificationId: string | undefined;
  if (!session.phoneNumber) start.disabled = true;

  start.addEventListener('click', () => {
    element('error').hidden = true;
    start.disabled = true;
    client
      .verify({ to: session.phoneNumber ?? '', channel: 'sms' })
      .then((verification) => {
        verificationId = verification.id;
        element('verification-id').textContent = verification.id;
        form.hidden = false;
        input.value = '';
        input.focus();
        show(
          'pending',
          `code sent to ${verification.to}; it expires at ${new Date(verification.expiresAt).toLocaleTimeString()}`,
        );
        start.textContent = 'Send me a new code';
      })
      .catch(showError)
      .finally(() => (start.disabled = false));
  });

  form.addEventListener('submit', (submitted) => {
    submitted.preventDefault();
    if (!verificationId) return;
    element('error').hidden = true;
    const button = form.querySelector('button') as HTMLButtonElement;
    button.disabled = true;
    client
      .check(verificationId, input.value.trim())
      .then((checked) => {
        if (checked.status === 'approved') {
          show('approved', `approved: ${checked.to} is your number`);
          // The token still says what the identity provider knew at sign-in; this page knows more now.
          element('verified').textContent = '(verified just now)';
          form.hidden = true;
          start.hidden = true;
        } else {
          const left = checked.checksLeft > 0 ? ` (${checked.checksLeft} checks left)` : '';
          show('denied', `denied: ${(checked.reason ?? 'wrong_code').replace('_', ' ')}${left}`);
          input.select();
        }
      })
      .catch(showError)
      .finally(() => (button.disabled = false));
  });
}

function followEvents(client: SmsgateClient, onEvent: (event: GatewayEvent) => void): void {
  const stream = element('stream');
  const state = (value: string, text: string) => {
    stream.dataset.state = value;
    stream.textContent = text;
  };
  client.events({
    onEvent,
    onOpen: () => state('open', 'open (a new ticket on every connection)'),
    onError: (error, fatal) => {
      if (fatal) {
        state('closed', 'closed');
        showError(error);
      } else state('reconnecting', 'reconnecting…');
    },
  });
}

async function main(): Promise<void> {
  const config = (await (await fetch('/config.json')).json()) as AppConfig;
  element('gateway').textContent = config.gatewayUrl;
  const session = sessionFromRedirect() ?? storedSession();
  if (!session) {
    element('signed-out').hidden = false;
    element('sign-in').addEventListener('click', () => signIn(config));
    return;
  }
  showSignedIn(config, session);
}

main().catch(showError);
