// Security primitives shared by every edge that checks something a caller presents: comparing
// secrets in constant time. A leaf module (node:crypto only) so that config, the HTTP edge, auth,
// callbacks, metrics and the standalone sandbox can all import it without an import cycle.
export { equalsConstantTime } from './constant-time';
