import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

/** What node:http (and node:https) create each request's objects with; empty for Node's own. */
export type ServerObjects = Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'>;

/**
 * The server options that make Node.js create each request and response with `app`'s prototypes
 * (`app.request`, `app.response`) from the start, instead of Node's own.
 *
 * Why: for every request Express runs `Object.setPrototypeOf(req, app.request)` and the same for
 * `res`. Changing a live object's prototype gives it a new hidden class, and Node's own HTTP code,
 * which then writes headers and bodies on these objects, runs slower for it. On this project's
 * machine an Express 5 app with one route cost 307-322 µs of CPU a request, and 199-216 µs with
 * its objects born with the app's prototypes (docs/benchmarks.md, "Twelfth round"). Express's own
 * call is then a no-op: V8 does nothing when the prototype is already the one asked for.
 *
 * Node's constructors are called on the new object (`IncomingMessage.call(this, socket)`, as
 * Node's own subclasses did before classes). Not `Reflect.construct(IncomingMessage, [socket],
 * AppRequest)`: objects made that way cost more than Express's prototype change (388-396 µs a
 * request in the same measurement). Should a Node.js release make them classes, which cannot be
 * called, this gives the empty options and Express changes the prototypes as before.
 */
export function serverObjectsOf(app: Express): ServerObjects {
  if (isClass(IncomingMessage) || isClass(ServerResponse)) return {};
  function AppRequest(this: IncomingMessage, socket: Socket): void {
    Reflect.apply(IncomingMessage, this, [socket]);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, req: IncomingMessage, options?: object): void {
    Reflect.apply(ServerResponse, this, [req, options]);
  }
  AppResponse.prototype = app.response;
  return {
    IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof ServerResponse,
  };
}

function isClass(constructor: object): boolean {
  return Function.prototype.toString.call(constructor).startsWith('class');
}
