// The script a user would write instead of ferry: read Auth0 users (NDJSON), map the
// fields to SCIM, write NDJSON. No validation, no metadata rules, no rejects, no change log.
// Used by bench/run.sh as the comparison point; keep it honest and simple.
'use strict';
const fs = require('fs');
const readline = require('readline');

const [,, input, output] = process.argv;
const out = fs.createWriteStream(output);
const rl = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity });

let buf = [];
function flush() {
  if (buf.length) { out.write(buf.join('')); buf = []; }
}

rl.on('line', (line) => {
  if (!line) return;
  const u = JSON.parse(line);
  const s = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    externalId: u.user_id,
    userName: u.username || u.email || u.user_id,
    name: { givenName: u.given_name, familyName: u.family_name, formatted: u.name },
    displayName: u.name,
    nickName: u.nickname,
    active: u.blocked === undefined ? undefined : !u.blocked,
    emails: u.email ? [{ value: u.email, primary: true }] : undefined,
    phoneNumbers: u.phone_number ? [{ value: u.phone_number }] : undefined,
    photos: u.picture ? [{ value: u.picture, type: 'photo' }] : undefined,
    meta: { created: u.created_at, lastModified: u.updated_at },
    'urn:ferry:params:scim:schemas:extension:ferry:1.0:User': {
      sourceId: u.user_id,
      emailVerified: u.email_verified === true || u.email_verified === 'true',
      identities: u.identities,
      appMetadata: u.app_metadata,
      userMetadata: u.user_metadata,
    },
  };
  buf.push(JSON.stringify(s) + '\n');
  if (buf.length >= 1000) flush();
});
rl.on('close', () => { flush(); out.end(); });
