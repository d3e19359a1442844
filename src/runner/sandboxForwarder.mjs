// Runs inside an agent's sandbox, whose network namespace has nothing but loopback: it listens on
// 127.0.0.1:<port> for each forward and pipes every connection to the runner's Unix socket bound into
// the sandbox (the model proxy, the egress proxy), then runs the agent's command and exits with it.
// Plain JavaScript without imports from gitoku: it is executed by node as it is, inside the sandbox.
// Usage: node sandboxForwarder.mjs '<json [{"port":N,"socket":"/path"}]>' -- command args…
import net from 'node:net';
import { spawn } from 'node:child_process';

const [spec, separator, ...argv] = process.argv.slice(2);
if (separator !== '--' || argv.length === 0) {
  process.stderr.write('gitoku forwarder: usage: forwarder <spec> -- command…\n');
  process.exit(125);
}

const servers = JSON.parse(spec).map(
  ({ port, socket }) =>
    new Promise((resolve, reject) => {
      const server = net.createServer((client) => {
        const upstream = net.connect(socket);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
      });
      server.on('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    }),
);

try {
  await Promise.all(servers);
} catch (err) {
  process.stderr.write(`gitoku forwarder: ${err.message}\n`);
  process.exit(125);
}

const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (err) => {
  process.stderr.write(`${argv[0]}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
