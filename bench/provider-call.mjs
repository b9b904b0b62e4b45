// The provider call of the floors (bench/node-floor.mjs, bench/express-floor.mjs): one keep-alive
// POST of send-sms to UPSTREAM_URL with the APPKEY, as plain as Node.js makes it.
import http from 'node:http';

const upstream = new URL(process.env.UPSTREAM_URL);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo' });

export function callProvider(body) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      new URL('send-sms', upstream),
      {
        method: 'POST',
        agent,
        headers: {
          APPKEY: process.env.APPKEY,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (answer.statusCode === 200 && body?.meta?.status === 'SUCCESS') resolve(body);
            else reject(new Error(`provider answered ${answer.statusCode}`));
          } catch (error) {
            reject(error);
          }
        });
        answer.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
