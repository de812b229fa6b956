import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const valid = { VIGIL_TASK_HUB: 'vigil', VIGIL_STATE_STORAGE: 'UseDevelopmentStorage=true' };

describe('loadConfig', () => {
  it('reads a minimal valid set of settings', () => {
    expect(loadConfig(valid)).toEqual({ taskHub: 'vigil', stateStorage: 'UseDevelopmentStorage=true' });
  });

  it('treats an empty optional setting as absent and keeps a configured Event Grid topic', () => {
    expect(loadConfig({ ...valid, VIGIL_EVENTGRID_TOPIC_ENDPOINT: '' }).eventGrid).toBeUndefined();
    const config = loadConfig({
      ...valid,
      VIGIL_EVENTGRID_TOPIC_ENDPOINT: 'https://127.0.0.1:7300/api/events',
      VIGIL_EVENTGRID_TOPIC_KEY: 'k',
    });
    expect(config.eventGrid).toEqual({ endpoint: 'https://127.0.0.1:7300/api/events', key: 'k' });
  });

  it.each([
    [{ VIGIL_STATE_STORAGE: 'UseDevelopmentStorage=true' }, 'VIGIL_TASK_HUB is required'],
    [{ ...valid, VIGIL_TASK_HUB: '9lives' }, 'VIGIL_TASK_HUB must be 3-45 letters or digits'],
    [{ VIGIL_TASK_HUB: 'vigil' }, 'VIGIL_STATE_STORAGE is required'],
    [
      { ...valid, VIGIL_STATE_STORAGE: 'not a connection' },
      'VIGIL_STATE_STORAGE must be a storage connection string',
    ],
    [
      { ...valid, VIGIL_EVENTGRID_TOPIC_ENDPOINT: 'http://plain' },
      'VIGIL_EVENTGRID_TOPIC_ENDPOINT must be an https:// URL',
    ],
  ])('rejects %o naming the setting and the rule', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reports every problem at once', () => {
    const error = (() => {
      try {
        loadConfig({});
      } catch (caught) {
        return caught as ConfigError;
      }
    })();
    expect(error?.problems).toHaveLength(2);
  });
});
