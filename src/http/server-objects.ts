import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Express } from 'express';

/** What node:http (and node:https) create each request's objects with; empty for Node's own. */
export type ServerObjects = Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'>;

/**
 * The server options that make Node.js create each request and response with `app`'s prototypes
 * (`app.request`, `app.response`) from the start, instead of Node's own.
 *
 * Why: for every request Express runs `Object.setPrototypeOf(req, app.request)` and the same for
 * `res`. Changing a live object's prototype gives it another hidden class, and Node's own HTTP code
 * works on these objects afterwards (headers, body, the end of the exchange). With the objects
 * born with the app's prototypes, Express's call finds nothing to change (V8 returns early when
 * the prototype is already the one asked for), and a send cost 29 % less CPU
 * (docs/benchmarks.md, "Twelfth round").
 *
 * Node's constructors are called on our object, as Node's own subclasses were written before
 * classes (`IncomingMessage.call(this, …)`, here through `Reflect.apply` with every argument Node
 * passes). Not `Reflect.construct(IncomingMessage, [socket], AppRequest)`: objects made that way
 * cost more than Express's prototype change (the same docs). Each kind is made once here, at
 * start-up: if Node's constructors cannot be called so (a Node.js release that makes them classes,
 * an instrumentation library that wraps them), the options are empty, and Node creates its own
 * objects, whose prototypes Express changes as before.
 */
export function serverObjectsOf(app: Express): ServerObjects {
  function AppRequest(this: IncomingMessage, ...args: unknown[]): void {
    Reflect.apply(IncomingMessage, this, args);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, ...args: unknown[]): void {
    Reflect.apply(ServerResponse, this, args);
  }
  AppResponse.prototype = app.response;
  const objects: ServerObjects = {
    IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof ServerResponse,
  };
  return bornAsAsked(objects, app) ? objects : {};
}

/** Whether one request and one response made with `objects` have the app's prototypes. */
function bornAsAsked(
  { IncomingMessage: Request, ServerResponse: Response }: ServerObjects,
  app: Express,
): boolean {
  if (Request === undefined || Response === undefined) return false;
  try {
    const req = new Request(undefined as never);
    const res = new Response(
      Object.assign(new IncomingMessage(undefined as never), {
        method: 'GET',
        httpVersionMajor: 1,
        httpVersionMinor: 1,
      }),
    );
    return Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response;
  } catch {
    return false;
  }
}
