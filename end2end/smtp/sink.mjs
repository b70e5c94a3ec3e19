// A real SMTP server for attest's tests (the `smtp-server` package): it accepts every mail,
// parses it (`mailparser`) and writes it as one JSON file a message into --dir. It prints
// `listening <port>` once it listens.
//
//   node end2end/smtp/sink.mjs --port 0 --dir /tmp/mails
//
// Plain SMTP without TLS (attest connects with `smtp://127.0.0.1:PORT?tls=none`); any user
// and password are accepted, and sign-in is optional.

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    dir: { type: 'string' },
  },
});
if (!values.dir) {
  console.error('usage: sink.mjs --port N --dir FOLDER');
  process.exit(2);
}
fs.mkdirSync(values.dir, { recursive: true });
let received = 0;

const server = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  allowInsecureAuth: true,
  onAuth(auth, session, callback) {
    callback(null, { user: auth.username });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', async () => {
      try {
        const raw = Buffer.concat(chunks);
        const mail = await simpleParser(raw);
        received += 1;
        const record = {
          envelopeFrom: session.envelope.mailFrom && session.envelope.mailFrom.address,
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          user: session.user || null,
          messageId: mail.messageId || null,
          from: mail.from ? mail.from.text : null,
          to: mail.to ? mail.to.text : null,
          subject: mail.subject || '',
          text: mail.text || '',
          html: typeof mail.html === 'string' ? mail.html : '',
          headers: Object.fromEntries([...mail.headers.keys()].map((k) => [k, String(mail.headers.get(k))])),
        };
        const name = `${String(received).padStart(6, '0')}.json`;
        const tmp = path.join(values.dir, `.${name}`);
        fs.writeFileSync(tmp, JSON.stringify(record, null, 2));
        fs.renameSync(tmp, path.join(values.dir, name));
        callback();
      } catch (err) {
        callback(err);
      }
    });
  },
});

server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`listening ${server.server.address().port}`);
});
