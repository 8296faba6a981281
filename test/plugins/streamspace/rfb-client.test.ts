import test from 'ava';
import { RfbClient } from '../../../scripts/lib/rfb-client.ts';
import type { ByteTransport } from '../../../scripts/lib/rfb-transport.ts';

/**
 * The bench's own RFB 3.8 client against a scripted server stream, fed whole and one byte at a
 * time: every server message is parsed to its last byte, so what follows it is read right.
 */
function fakeTransport(): { transport: ByteTransport; sent: Buffer[]; feed(b: Buffer): void; end(err: Error | null): void } {
  const sent: Buffer[] = [];
  let data: (b: Buffer) => void = () => undefined;
  let closed: (err: Error | null) => void = () => undefined;
  return {
    sent,
    transport: {
      send: (b) => sent.push(Buffer.from(b)),
      onData: (l) => (data = l),
      onClose: (l) => (closed = l),
      close: async () => undefined,
    },
    feed: (b) => data(b),
    end: (err) => closed(err),
  };
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const rect = (w: number, h: number, encoding: number): Buffer => Buffer.concat([u16(0), u16(0), u16(w), u16(h), u32(encoding)]);
// 32 bpp, depth 24, little endian, true colour, 255/255/255, shifts 16/8/0.
const pixelFormat = Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
const greeting = Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1]), u32(0), u16(4), u16(2), pixelFormat, u32(4), Buffer.from('desk')]);
const update = Buffer.concat([Buffer.from([0, 0]), u16(2), rect(2, 1, 0), Buffer.alloc(8, 7), rect(3, 3, 1), Buffer.alloc(4, 1)]);
const messages = Buffer.concat([
  Buffer.from([2]), // Bell
  Buffer.from([1, 0]),
  u16(0),
  u16(2),
  Buffer.alloc(12, 9), // SetColourMapEntries, 2 colours
  Buffer.from([3, 0, 0, 0]),
  u32(2),
  Buffer.from('hi'), // ServerCutText
  update,
  Buffer.from([3, 0, 0, 0]),
  u32(-3),
  Buffer.from([0, 0, 0]), // extended clipboard: |length| bytes
  Buffer.from([0, 0]),
  u16(0), // an empty FramebufferUpdate
]);

for (const chunking of ['whole', 'byte by byte'] as const) {
  test(`handshake (None, shared) and every server message parsed, fed ${chunking}`, async (t) => {
    const fake = fakeTransport();
    const client = new RfbClient(fake.transport);
    const updates: Array<{ rects: number; bytes: number }> = [];
    client.onUpdate((u) => updates.push({ rects: u.rects, bytes: u.bytes }));
    const stream = Buffer.concat([greeting, messages]);
    if (chunking === 'whole') fake.feed(stream);
    else for (let i = 0; i < stream.length; i += 1) fake.feed(stream.subarray(i, i + 1));
    const init = await client.handshake();
    t.deepEqual(
      { width: init.width, height: init.height, name: init.name, bpp: init.pixelFormat.bitsPerPixel, trueColour: init.pixelFormat.trueColour, redShift: init.pixelFormat.redShift },
      { width: 4, height: 2, name: 'desk', bpp: 32, trueColour: true, redShift: 16 },
    );
    t.deepEqual(
      fake.sent.slice(0, 3).map((b) => b.toString('latin1')),
      ['RFB 003.008\n', '\x01', '\x01'],
      'version, security type None, ClientInit shared',
    );
    t.deepEqual(updates, [
      { rects: 2, bytes: update.length },
      { rects: 0, bytes: 4 },
    ]);
    t.deepEqual(client.counts, { updates: 2, bells: 1, cutTexts: 2, colourMaps: 1 });
  });
}

test('client messages: SetEncodings, FramebufferUpdateRequest for the whole screen, KeyEvent, PointerEvent', async (t) => {
  const fake = fakeTransport();
  const client = new RfbClient(fake.transport);
  fake.feed(greeting);
  await client.handshake();
  fake.sent.length = 0;
  client.setEncodings([0, 1]);
  client.requestUpdate(true);
  client.key(0xff08, true);
  client.pointer(400, 300, 1);
  t.deepEqual(
    fake.sent.map((b) => b.toString('hex')),
    ['020000020000000000000001', '03010000000000040002', '040100000000ff08', '05010190012c'],
  );
});

test('a refusal, an encoding never asked for and a closed connection are errors, not a desync', async (t) => {
  const refused = fakeTransport();
  const a = new RfbClient(refused.transport);
  refused.feed(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([0]), u32(4), Buffer.from('busy')]));
  await t.throwsAsync(a.handshake(), { message: /refused the connection: busy/ });

  const odd = fakeTransport();
  const b = new RfbClient(odd.transport);
  odd.feed(greeting);
  await b.handshake();
  const next = b.nextUpdate(1_000);
  odd.feed(Buffer.concat([Buffer.from([0, 0]), u16(1), rect(1, 1, 16)]));
  await t.throwsAsync(next, { message: /encoding 16/ });

  const gone = fakeTransport();
  const c = new RfbClient(gone.transport);
  gone.feed(greeting);
  await c.handshake();
  const pending = c.nextUpdate(1_000);
  gone.end(null);
  await t.throwsAsync(pending, { message: /closed/ });
  t.is(await new RfbClient(fakeTransport().transport).nextUpdate(10), null, 'no update in time is null');
});
