import { describe, expect, it } from 'vitest';
import { contentProblem } from './elicitations.ts';

const schema = {
  type: 'object',
  properties: {
    env: { type: 'string', enum: ['staging', 'production'] },
    note: { type: 'string', minLength: 2, maxLength: 5 },
    replicas: { type: 'integer', minimum: 1, maximum: 10 },
    ratio: { type: 'number' },
    confirm: { type: 'boolean' },
    regions: { type: 'array', items: { enum: ['eu', 'us'] }, maxItems: 2 },
    level: { type: 'string', oneOf: [{ const: 'low' }, { const: 'high' }] },
  },
  required: ['env'],
};

describe('an elicitation answer against the requested form', () => {
  it('accepts what fits', () => {
    expect(contentProblem(schema, { env: 'staging' })).toBeNull();
    expect(contentProblem(schema, { env: 'production', note: 'ok', replicas: 3, ratio: 0.5, confirm: false, regions: ['eu'], level: 'high' })).toBeNull();
    expect(contentProblem({ type: 'object', properties: {} }, {})).toBeNull();
  });

  it('names the field and the rule it breaks', () => {
    expect(contentProblem(schema, {})).toBe("'env' is required.");
    expect(contentProblem(schema, { env: 'moon' })).toBe('\'env\' must be one of "staging", "production".');
    expect(contentProblem(schema, { env: 'staging', color: 'red' })).toMatch(/^'color' is not a field of the requested form/);
    expect(contentProblem(schema, { env: 'staging', note: 'x' })).toBe("'note' must be at least 2 characters.");
    expect(contentProblem(schema, { env: 'staging', note: 'toolong' })).toBe("'note' must be at most 5 characters.");
    expect(contentProblem(schema, { env: 'staging', replicas: 2.5 })).toBe("'replicas' must be an integer.");
    expect(contentProblem(schema, { env: 'staging', replicas: 11 })).toBe("'replicas' must be at most 10.");
    expect(contentProblem(schema, { env: 'staging', replicas: '3' })).toBe("'replicas' must be a number.");
    expect(contentProblem(schema, { env: 'staging', confirm: 'yes' })).toBe("'confirm' must be a boolean.");
    expect(contentProblem(schema, { env: 'staging', regions: ['mars'] })).toMatch(/^'regions' has "mars"/);
    expect(contentProblem(schema, { env: 'staging', regions: ['eu', 'us', 'eu'] })).toBe("'regions' takes at most 2 items.");
    expect(contentProblem(schema, { env: 'staging', level: 'mid' })).toBe('\'level\' must be one of "low", "high".');
  });
});
