// A stand-in for code-server in tests and benchmarks (code-server cannot be installed
// here): serves an HTML page that sets its own cookie, echoes what it received, answers
// slowly or in bulk on request, and echoes WebSocket messages. Listens on $PORT, loopback only.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8443);
const host = process.env.IDE_BIND ?? '127.0.0.1';

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://ide');
  // Headers a real IDE might send that the panel must not pass on (CORS), and a cookie of its own that it must.
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (url.pathname === '/echo' || url.pathname.startsWith('/echo/')) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    return;
  }
  if (url.pathname === '/slow') {
    setTimeout(() => res.end('slow answer'), Number(url.searchParams.get('ms') ?? 1000));
    return;
  }
  if (url.pathname === '/bytes') {
    const size = Math.min(Number(url.searchParams.get('n') ?? 1024), 1024 * 1024 * 1024);
    const block = Buffer.alloc(64 * 1024, 97);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= block.length ? block : block.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  res.setHeader('Set-Cookie', 'ide-own=stand-in; Path=/; HttpOnly; SameSite=Lax');
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html><head><title>IDE stand-in</title></head><body><h1>IDE stand-in</h1><p>${req.method} ${url.pathname}</p></body></html>`);
});

const sockets = new WebSocketServer({ server, perMessageDeflate: false });
sockets.on('connection', (ws, req) => {
  ws.on('error', () => undefined);
  // On /headers the first message is what the upgrade carried, so tests can check what reached the IDE.
  if (req.url?.startsWith('/headers')) ws.send(JSON.stringify({ type: 'headers', url: req.url, headers: req.headers }));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.listen(port, host, () => process.stdout.write(`IDE stand-in on http://${host}:${port}\n`));
process.on('SIGTERM', () => process.exit(0));
