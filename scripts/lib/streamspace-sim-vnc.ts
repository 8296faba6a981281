import { createServer, type Server, type Socket } from 'node:net';

/** What the fake VNC server does after the RFB version exchange. */
export type SimVncMode = 'echo' | 'pattern';

/** A fake session's VNC server: just enough RFB to look like one, then echo or a test pattern. */
export interface SimVncServer {
  readonly port: number;
  /** Bytes written to viewers so far: how far a pattern stream got ahead of a viewer that does not read. */
  bytesSent(): number;
  /** Stops listening and cuts every live viewer connection. */
  close(): Promise<void>;
}

const serverVersion = Buffer.from('RFB 003.008\n', 'ascii');
const clientVersionBytes = 12;

/**
 * The pattern stream is byte i = i % 251 (a prime, so the period never lines up with chunk or
 * frame sizes and a lost or duplicated chunk shows). A chunk of whole periods can be sent
 * again and again, so it is built once; 64 KiB of it, so writing it costs few system calls.
 */
const patternChunk = Buffer.from(Array.from({ length: 251 * 261 }, (_, i) => i % 251));

/** Starts a fake VNC server on 127.0.0.1 on a free port; `log` gets lines for the session log. */
export function startSimVnc(mode: SimVncMode, log: (line: string) => void): Promise<SimVncServer> {
  const sockets = new Set<Socket>();
  let closedBytes = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    log(`Viewer connected from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    socket.on('error', () => {});
    socket.on('close', () => {
      closedBytes += socket.bytesWritten;
      sockets.delete(socket);
      log('Viewer disconnected');
    });
    serveViewer(socket, mode, log);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      log(`VNC server started on port ${port} (${mode} mode)`);
      resolve({
        port,
        bytesSent: () => [...sockets].reduce((n, socket) => n + socket.bytesWritten, closedBytes),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of sockets) socket.destroy();
            log(`VNC server on port ${port} stopped`);
          }),
      });
    });
  });
}

function serveViewer(socket: Socket, mode: SimVncMode, log: (line: string) => void): void {
  socket.write(serverVersion);
  let version = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    // The version line may arrive split or together with the first bytes after it.
    version = Buffer.concat([version, chunk]);
    if (version.length < clientVersionBytes) return;
    socket.off('data', onData);
    const rest = version.subarray(clientVersionBytes);
    log(`RFB handshake: client version ${JSON.stringify(version.subarray(0, clientVersionBytes).toString('latin1'))}`);
    if (mode === 'echo') echo(socket, rest);
    else pattern(socket);
  };
  socket.on('data', onData);
}

/** Echoes every byte back, pausing the read side while the write side is backed up. */
function echo(socket: Socket, first: Buffer): void {
  const write = (data: Buffer): void => {
    if (data.length > 0 && !socket.write(data)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };
  socket.on('data', write);
  write(first);
}

/** Writes the test pattern for as long as the viewer is there, at the pace it reads. */
function pattern(socket: Socket): void {
  // Whatever the viewer sends now is read and dropped, so its writes never stall.
  socket.on('data', () => {});
  const pump = (): void => {
    while (!socket.destroyed && socket.writable) {
      if (!socket.write(patternChunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}
