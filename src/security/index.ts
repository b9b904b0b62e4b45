// Security primitives shared by every edge that checks something a caller presents: comparing
// secrets in constant time, and telling loopback from the rest of the network (ipaddr.js). A leaf
// module (node:crypto, ipaddr.js and ulid only) so that config, the HTTP edge, auth, callbacks,
// egress, metrics, upstream and the standalone sandbox can all import it without an import cycle.
// Also the ids every record gets (ULIDs from pooled CSPRNG bytes).
export { equalsConstantTime } from './constant-time';
export { isLoopback } from './loopback';
export { ulidFactory, type UlidFactory } from './ids';
