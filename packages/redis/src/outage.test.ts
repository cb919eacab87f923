import { describe, expect, it } from 'vitest';
import { isRedisFailure, redisOutage } from './outage.ts';

const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('redisOutage', () => {
  it('knows the replies that mean "not now", with a longer wait when Redis is full', () => {
    expect(redisOutage(reply("OOM command not allowed when used memory > 'maxmemory'."))).toEqual({ reason: 'is full', retryAfterSeconds: 30 });
    expect(redisOutage(reply("READONLY You can't write against a read only replica."))?.reason).toBe('is read-only');
    expect(redisOutage(reply('CLUSTERDOWN The cluster is down'))?.retryAfterSeconds).toBe(2);
  });

  it('knows a lost connection by message or errno code, and a pipeline by its first failed command', () => {
    expect(redisOutage(new Error('Connection is closed.'))?.reason).toBe('is unreachable');
    expect(redisOutage(Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' }))?.reason).toBe('is unreachable');
    expect(redisOutage(Object.assign(new Error('EXECABORT'), { previousErrors: [reply('LOADING Redis is loading the dataset in memory')] }))?.reason).toBe('is loading its data');
  });

  it('is not fooled by a request error that only mentions a word', () => {
    expect(redisOutage(new TypeError('OOM in the model'))).toBeNull();
    expect(redisOutage(reply('ERR wrong number of arguments'))).toBeNull();
    expect(redisOutage('ECONNREFUSED')).toBeNull();
  });

  it('counts every error reply as a Redis failure, and nothing else', () => {
    expect(isRedisFailure(reply('ERR wrong number of arguments'))).toBe(true);
    expect(isRedisFailure(new Error('Connection is closed.'))).toBe(true);
    expect(isRedisFailure(new Error('upstream said no'))).toBe(false);
  });
});
