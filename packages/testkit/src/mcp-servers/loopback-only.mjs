// Preloaded (`node --import`) into server-everything, whose HTTP transports call `app.listen(PORT)`
// and so listen on every interface. Its `get-env` tool returns the process environment, and tests
// must not open anything beyond loopback: a listen() given only a port is pinned to 127.0.0.1.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first, second] = args;
  const portOnly = (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) && typeof second !== 'string';
  if (portOnly) args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
