import path from 'node:path';
import { parseArgs } from 'node:util';
import { issueToken } from './easyAuth.js';
import { loadOrCreateKeys } from './keys.js';

/** `npm run token -- --role responder [--role ...] [--sub alice] [--data .vigil/host]`: prints a bearer token. */
const { values } = parseArgs({
  options: {
    role: { type: 'string', multiple: true, default: [] },
    sub: { type: 'string', default: 'local-user' },
    name: { type: 'string' },
    data: { type: 'string', default: '.vigil/host' },
    'expires-in': { type: 'string', default: '3600' },
  },
});
const keys = await loadOrCreateKeys(path.resolve(values.data));
const token = await issueToken(keys.tokenSigningKey, {
  subject: values.sub,
  roles: values.role,
  expiresIn: Number(values['expires-in']),
  ...(values.name && { name: values.name }),
});
console.log(token);
