import { type Socket, createSocket } from 'node:dgram';
import { once } from 'node:events';

/** Records a loopback DNS server answers with, by lower-case name. */
export interface DnsZone {
  [name: string]: {
    A?: { address: string; ttl: number }[];
    AAAA?: { address: string; ttl: number }[];
    SRV?: { priority: number; weight: number; port: number; target: string; ttl: number }[];
    /** Answer with this RCODE instead (2 SERVFAIL, 3 NXDOMAIN). */
    rcode?: number;
  };
}

export interface DnsServer {
  /** `127.0.0.1:port`, for `servers`. */
  readonly address: string;
  zone: DnsZone;
  /** Questions received, as `TYPE name`. */
  readonly questions: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, 'A' | 'AAAA' | 'SRV'> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((p) => p.length > 0);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

function answer(query: Buffer, zone: DnsZone, questions: string[]): Buffer {
  let offset = 12;
  const labels: string[] = [];
  while (query[offset]! !== 0) {
    const length = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += length + 1;
  }
  offset += 1;
  const qtype = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const name = labels.join('.').toLowerCase();
  const type = TYPES[qtype];
  questions.push(`${type ?? qtype} ${name}`);
  const entry = zone[name];
  const rcode = entry === undefined ? 3 : (entry.rcode ?? 0);
  const records: Buffer[] = [];
  if (rcode === 0 && type !== undefined) {
    for (const record of entry?.[type] ?? []) {
      let rdata: Buffer;
      if (type === 'A') rdata = Buffer.from((record as { address: string }).address.split('.').map(Number));
      else if (type === 'AAAA') rdata = ipv6Bytes((record as { address: string }).address);
      else {
        const srv = record as { priority: number; weight: number; port: number; target: string };
        const head = Buffer.alloc(6);
        head.writeUInt16BE(srv.priority, 0);
        head.writeUInt16BE(srv.weight, 2);
        head.writeUInt16BE(srv.port, 4);
        rdata = Buffer.concat([head, encodeName(srv.target)]);
      }
      const fixed = Buffer.alloc(12);
      fixed.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      fixed.writeUInt16BE(qtype, 2);
      fixed.writeUInt16BE(1, 4); // IN
      fixed.writeUInt32BE(record.ttl, 6);
      fixed.writeUInt16BE(rdata.length, 10);
      records.push(fixed, rdata);
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length / 2, 6);
  return Buffer.concat([header, question, ...records]);
}

/** Starts a DNS server on a free UDP port of 127.0.0.1 that answers A, AAAA and SRV from `zone`. */
export async function startDnsServer(zone: DnsZone = {}): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  const questions: string[] = [];
  const server = {
    address: '',
    zone,
    questions,
    close: async () => {
      socket.close();
      await once(socket, 'close');
    },
  };
  socket.on('message', (message, remote) => {
    try {
      socket.send(answer(message, server.zone, questions), remote.port, remote.address);
    } catch {
      // A malformed query gets no answer, as from a real server under load.
    }
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}
