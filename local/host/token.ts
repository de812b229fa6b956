import path from 'node:path';
import { parseArgs } from 'node:util';
import { issueToken } from './easyAuth.js';
import { loadOrCreateKeys } from './keys.js';

/** `npm run token -- --role responder [--role ...] [--sub alice] [--data $VIGIL_DATA_DIR/host]`: prints a bearer token. */
const { values } = parseArgs({
  options: {
    role: { type: 'string', multiple: true, default: [] },
    sub: { type: 'string', default: 'local-user' },
    name: { type: 'string' },
    data: { type: 'string', default: path.join(process.env.VIGIL_DATA_DIR ?? '.vigil', 'host') },
    'expires-in': { type: 'string', default: '3600' },
  },
});
const expiresIn = Number(values['expires-in']);
if (!Number.isInteger(expiresIn) || expiresIn <= 0) {
  console.error(`--expires-in must be a whole number of seconds > 0, got "${values['expires-in']}"`);
  process.exit(2);
}
const keys = await loadOrCreateKeys(path.resolve(values.data));
const token = await issueToken(keys.tokenSigningKey, {
  subject: values.sub,
  roles: values.role,
  expiresIn,
  ...(values.name && { name: values.name }),
});
console.log(token);
