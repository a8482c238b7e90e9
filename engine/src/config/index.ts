export * from './engine-config.js';
export * from './profiles.js';
export * from './validate-config.js';
export * from './config-schema.js';
