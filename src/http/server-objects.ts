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
 * passes). Not `Reflect.construct(IncomingMessage, [socket], Born)`: objects made that way
 * cost more than Express's prototype change (the same docs). Each kind is made once here, at
 * start-up: if Node's constructors cannot be called so (a Node.js release that makes them classes,
 * an instrumentation library that wraps them), the options are empty, and Node creates its own
 * objects, whose prototypes Express changes as before.
 */
export function serverObjectsOf(app: Express): ServerObjects {
  const objects: ServerObjects = {
    IncomingMessage: bornWith(IncomingMessage, app.request) as unknown as typeof IncomingMessage,
    ServerResponse: bornWith(ServerResponse, app.response) as unknown as typeof ServerResponse,
  };
  return bornAsAsked(objects, app) ? objects : {};
}

/**
 * A constructor whose objects have `prototype` and are set up by Node's `Base` (called on them),
 * with room for their properties (see Room). Each call makes a constructor of its own, so a
 * request's and a response's objects have maps, and room, of their own.
 */
function bornWith(Base: typeof IncomingMessage | typeof ServerResponse, prototype: object) {
  function Born(this: Room, ...args: unknown[]): void {
    Reflect.apply(Base, this, args);
    // Never runs; counted by V8 (see Room).
    if (args.length < 0) {
      this.r0 = this.r1 = this.r2 = this.r3 = this.r4 = this.r5 = this.r6 = this.r7 = undefined;
      this.r8 = this.r9 = this.r10 = this.r11 = this.r12 = this.r13 = this.r14 = this.r15 = undefined;
      this.r16 = this.r17 = this.r18 = this.r19 = this.r20 = this.r21 = this.r22 = this.r23 = undefined;
      this.r24 = this.r25 = this.r26 = this.r27 = this.r28 = this.r29 = this.r30 = this.r31 = undefined;
    }
  }
  Born.prototype = prototype;
  return Born;
}

/**
 * Room in each object for the properties Node's constructors set on it (about 26 on a request, 40
 * on a response) and those Express and smsgate add later. V8 gives the objects of a constructor
 * in-object room for the `this.x = …` assignments in the constructor's own body, plus a few. A
 * constructor that only calls Node's gets about ten slots, and an object with more than a dozen
 * properties outside its room (or more than the room holds, if that is larger) becomes a
 * dictionary (slow properties) at its next store by a computed or symbol key, which Node's
 * constructors make: every response was one, and every request was once Express and smsgate had
 * added theirs. The 32 assignments in the constructor never run; V8 counts them when it parses
 * the function, and at the end of its slack tracking (the first few objects) takes back the room
 * that was not used. Checked by
 * test/http/server-objects.test.ts (V8's %HasFastProperties, through a request).
 */
type Room = Record<`r${number}`, undefined>;

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
