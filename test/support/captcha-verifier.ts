import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type VerifierMode = 'pass' | 'fail' | 'garbage' | 'error500';

export interface FakeCaptchaVerifier {
  url: string;
  /** Every siteverify request's form fields, in order. */
  requests: Record<string, string>[];
  mode: VerifierMode;
  close(): Promise<void>;
}

/** A loopback siteverify (the protocol Turnstile, hCaptcha and reCAPTCHA share), answering as told. */
export async function startCaptchaVerifier(): Promise<FakeCaptchaVerifier> {
  const verifier: FakeCaptchaVerifier = {
    url: '',
    requests: [],
    mode: 'pass',
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      verifier.requests.push(Object.fromEntries(new URLSearchParams(body)));
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
      if (verifier.mode === 'pass')
        json(200, { success: true, 'error-codes': [], hostname: 'www.example.com' });
      else if (verifier.mode === 'fail')
        json(200, { success: false, 'error-codes': ['invalid-input-response'] });
      else if (verifier.mode === 'garbage')
        res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>oops</html>');
      else json(500, { error: 'down' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  verifier.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/siteverify`;
  verifier.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return verifier;
}
