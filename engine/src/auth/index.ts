// What operators, benchmarks and tools need to make keys for engines: new keys, their hashes, the
// key document, and the key-file editor behind `engram keys`.
export { AUTHORIZATION_HEADER, hashKey, newKey, parseKeyDocument, ROLES, type KeyEntry, type Role } from './credentials.js';
export { keysCommand } from '../cli/keys-command.js';
export { keyDocumentHash } from './key-source.js';
